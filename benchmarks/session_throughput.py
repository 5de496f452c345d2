"""Steps/sec of km.MonitoredTrainingSession (steps_per_loop 1 and 100, hooks
on) against a raw tf.function loop and an in-graph N-step loop, in one run.

    python benchmarks/session_throughput.py [--steps 3000] [--repeats 5]

Targets: km at steps_per_loop=1 >= 0.9x the raw per-step loop; km at
steps_per_loop=100 >= 0.8x the in-graph 100-step loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import logging  # noqa: E402

import keras_monitored as km  # noqa: E402
from benchmarks import common  # noqa: E402

LOOP = 100


def make_training():
    """A small MLP regression step on batches from a tf.data iterator."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.SGD(0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64 * 50, 32)).astype("float32")
    y = x[:, :1] * 2.0
    iterator = iter(
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(64)
        .repeat()
        .prefetch(16)
    )

    def train_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(xb, training=True) - yb) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return train_step, iterator


def raw_per_step(steps):
    train_step, iterator = make_training()

    @tf.function
    def step(it):
        return train_step(next(it))

    step(iterator)

    def run():
        for _ in range(steps):
            step(iterator)

    return run


def raw_in_graph(steps):
    train_step, iterator = make_training()

    @tf.function
    def loop(it, n):
        out = train_step(next(it))
        for _ in tf.range(n - 1):
            out = train_step(next(it))
        return out

    loop(iterator, tf.constant(LOOP))

    def run():
        for _ in range(steps // LOOP):
            loop(iterator, tf.constant(LOOP))

    return run


def km_session(steps, steps_per_loop):
    """One long-lived session (as a training job has); each repeat runs
    `steps` more global steps through it, hooks on."""
    train_step, iterator = make_training()

    class Progress(km.SessionRunHook):
        """Where the run is (read on the host: no extra device sync)."""

        step = 0

        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            Progress.step = int(run_values.results)

    hooks = [
        Progress(),
        km.hooks.StopAtStepHook(last_step=10**12),
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=LOOP),
        km.hooks.StepCounterHook(
            every_n_steps=LOOP, output_dir=tempfile.mkdtemp()
        ),
    ]
    km.reset_global_step()
    sess = km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=steps_per_loop),
        hooks=hooks,
    )
    sess.run(train_step, feed_dict={"batch": iterator})  # compile once

    def run():
        target = Progress.step + steps
        while Progress.step < target:
            sess.run(train_step, feed_dict={"batch": iterator})

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.set_verbosity(logging.WARNING)
    steps = args.steps - args.steps % LOOP
    candidates = {
        "raw_tf_function_per_step": raw_per_step(steps),
        "km_steps_per_loop_1": km_session(steps, 1),
        "raw_in_graph_loop_100": raw_in_graph(steps),
        "km_steps_per_loop_100": km_session(steps, LOOP),
    }
    times = common.interleaved(candidates, args.repeats)
    units = {name: steps for name in candidates}
    per_step = common.report(
        "session_throughput_per_step",
        {
            k: times[k]
            for k in ("raw_tf_function_per_step", "km_steps_per_loop_1")
        },
        baseline="raw_tf_function_per_step",
        units=units,
        target="km rate >= 0.9x raw",
    )
    looped = common.report(
        "session_throughput_looped",
        {
            k: times[k]
            for k in ("raw_in_graph_loop_100", "km_steps_per_loop_100")
        },
        baseline="raw_in_graph_loop_100",
        units=units,
        target="km rate >= 0.8x in-graph",
    )
    r1 = per_step["results"]["km_steps_per_loop_1"]["rate_ratio_to_baseline"]
    r100 = looped["results"]["km_steps_per_loop_100"]["rate_ratio_to_baseline"]
    print(
        f"\nsteps_per_loop=1:   {r1:.3f}x raw per-step ({'meets' if r1 >= 0.9 else 'misses'} >= 0.9)"
    )
    print(
        f"steps_per_loop=100: {r100:.3f}x in-graph loop ({'meets' if r100 >= 0.8 else 'misses'} >= 0.8)"
    )


if __name__ == "__main__":
    main()
