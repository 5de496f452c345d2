"""The baselines km is measured against, in the benchmark's own process: a
raw per-step `tf.function` loop, a raw in-graph loop and Keras `fit` with a
bare callback (km's systems are in `km_systems.py`; this module does not
import keras_monitored, so a peak-RSS run of a baseline never loads it).

Each factory builds its system, compiles and warms it up, and returns a
`System` whose `run(steps)` trains exactly `steps` more steps (the runner
times that call). TF1's graph-mode session and peak-RSS runs need their own
processes: see `tf1_session.py` and `peak_rss.py`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import keras
import tensorflow as tf
from absl import logging

from benchmarks import workloads
from benchmarks.workloads import Workload

# Steps per call of the in-graph loops (and km's steps_per_loop, Keras's
# steps_per_execution); hooks trigger every LOOP steps.
LOOP = 100


@dataclasses.dataclass
class System:
    """A built, warmed-up system.

    Attributes:
      name: a short key (`km_spl1`, `raw_step`, ...).
      run: `run(steps)` trains `steps` more steps; `steps` is a multiple of
        `granularity`.
      granularity: the step count `run` needs a multiple of.
      close: releases the system (e.g. closes a session); returns seconds
        spent, or None when there is nothing to time.
    """

    name: str
    run: Callable[[int], None]
    granularity: int = 1
    close: Callable[[], float | None] = lambda: None


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


def raw_per_step(workload: Workload) -> System:
    """A `tf.function` step called once per step from a Python loop."""
    training = workloads.training(workload)

    @tf.function
    def step(iterator):
        return training.train_step(next(iterator))

    step(training.iterator)

    def run(steps: int) -> None:
        for _ in range(steps):
            step(training.iterator)

    return System("raw_step", run)


def raw_in_graph(workload: Workload) -> System:
    """A `tf.function` running LOOP steps in a `tf.range` loop per call
    (the dispatch limit: one Python call per LOOP steps)."""
    training = workloads.training(workload)

    @tf.function
    def loop(iterator, n):
        out = training.train_step(next(iterator))
        for _ in tf.range(n - 1):
            out = training.train_step(next(iterator))
        return out

    count = tf.constant(LOOP)
    loop(training.iterator, count)

    def run(steps: int) -> None:
        for _ in range(steps // LOOP):
            loop(training.iterator, count)

    return System("raw_loop", run, granularity=LOOP)


class BareCallback(keras.callbacks.Callback):
    """The hooks' work written as a plain Keras callback: log the loss every
    LOOP batches, stop on a NaN loss, stop at a last step."""

    def __init__(self, last_step: int):
        super().__init__()
        self.last_step = last_step
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        loss = logs["loss"]
        if self.count % LOOP == 0:
            logging.info("loss = %s", loss)
        self.count += 1
        if math.isnan(loss):
            self.model.stop_training = True
        if int(self.model.optimizer.iterations.numpy()) >= self.last_step:
            self.model.stop_training = True


def keras_fit(
    workload: Workload,
    steps_per_execution: int,
    callback: Callable[[int], keras.callbacks.Callback] = BareCallback,
    name: str = "fit",
) -> System:
    """`model.fit` over the workload's dataset, one epoch of `steps` steps
    per `run`, with a fresh `callback(last_step)` per `run` (by default the
    bare callback).

    Args:
      workload: what to train.
      steps_per_execution: the model's `steps_per_execution`.
      callback: makes the run's callback from its last global step.
      name: the system's key prefix (`<name>_spe<steps_per_execution>`).
    """
    model = workloads.compiled_model(workload, steps_per_execution)
    data = workloads.dataset(workload)
    warm = max(steps_per_execution, 10)
    model.fit(data, steps_per_epoch=warm, epochs=1, verbose=0)  # trace

    def run(steps: int) -> None:
        before = int(model.optimizer.iterations.numpy())
        last = before + steps
        model.fit(
            data,
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            callbacks=[callback(last)],
        )
        check(
            int(model.optimizer.iterations.numpy()) == last,
            "fit did not run the steps asked for",
        )

    return System(
        f"{name}_spe{steps_per_execution}", run, granularity=steps_per_execution
    )
