"""km's systems, in the benchmark's own process: `km.MonitoredTrainingSession`
(long-lived, TF1's default hooks plus LoggingTensorHook and NanTensorHook)
and `km.HookCallback` in Keras `fit`."""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any, Callable

import tensorflow as tf

import keras_monitored as km
from benchmarks import workloads
from benchmarks.baselines import LOOP, System, check, keras_fit
from benchmarks.workloads import Workload


def fit_hooks(last_step: int) -> list[Any]:
    """The hooks `km.HookCallback` runs: the bare callback's work (log the
    loss every LOOP batches, stop on NaN, stop at `last_step`)."""
    return [
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=LOOP),
        km.hooks.NanTensorHook("loss"),
        km.hooks.StopAtStepHook(last_step=last_step),
    ]


def hook_callback_fit(workload: Workload, steps_per_execution: int) -> System:
    """Keras `fit` with `km.HookCallback(fit_hooks(...))`."""
    return keras_fit(
        workload,
        steps_per_execution,
        lambda last: km.HookCallback(fit_hooks(last), restore=False),
        name="hookcb",
    )


def session_hooks(training: workloads.Training, directory: str) -> list[Any]:
    """The hooks km's session runs besides TF1's defaults."""
    del training, directory  # Hooks factories get them; these need neither.
    return [
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=LOOP),
        km.hooks.NanTensorHook("loss"),
    ]


def km_session(
    workload: Workload,
    steps_per_loop: int,
    hooks: Callable[[workloads.Training, str], list[Any]]
    | None = session_hooks,
    default_hooks: bool = True,
    name: str | None = None,
    **session_kwargs: Any,
) -> System:
    """A long-lived `km.MonitoredTrainingSession` (as a training job has);
    each `run(steps)` runs `steps` more global steps through it.

    Args:
      workload: what to train.
      steps_per_loop: the session's `steps_per_loop`.
      hooks: makes the session's `hooks` from the system's `Training` and
        a scratch directory (removed at close).
      default_hooks: give a `checkpoint_dir`, so TF1's default hooks run
        (StepCounterHook and SummarySaverHook every 100 steps,
        CheckpointSaverHook every 600 s); False runs only `hooks`.
      name: the system's key (default `km_spl<steps_per_loop>`).
      **session_kwargs: more `MonitoredTrainingSession` arguments.
    """
    training = workloads.training(workload)
    directory = tempfile.mkdtemp(prefix="km_bench_")
    km.reset_global_step()
    session = km.MonitoredTrainingSession(
        checkpoint_dir=directory if default_hooks else None,
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(
                model=training.model, optimizer=training.optimizer
            )
        ),
        hooks=hooks(training, directory) if hooks else None,
        steps_per_loop=steps_per_loop,
        **session_kwargs,
    )
    global_step = km.get_global_step()
    feeds = {"batch": training.iterator}
    step = training.train_step
    # Compile, then run until the calls line up with the hooks' every-LOOP
    # triggers (steps 1, 101, ...): from there each call of a looped session
    # runs exactly steps_per_loop steps.
    before = -1
    while int(global_step.numpy()) - before != steps_per_loop:
        before = int(global_step.numpy())
        session.run(step, feed_dict=feeds)

    def run(steps: int) -> None:
        before = int(global_step.numpy())
        for _ in range(steps // steps_per_loop):
            session.run(step, feed_dict=feeds)
        check(
            int(global_step.numpy()) == before + steps,
            f"km session ran {int(global_step.numpy()) - before} steps, "
            f"not {steps}",
        )

    def close() -> float:
        began = time.perf_counter()
        session.close()
        seconds = time.perf_counter() - began
        shutil.rmtree(directory, ignore_errors=True)
        return seconds

    return System(
        name or f"km_spl{steps_per_loop}",
        run,
        granularity=steps_per_loop,
        close=close,
    )
