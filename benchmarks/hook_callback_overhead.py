"""HookCallback overhead in model.fit, against a bare Keras callback doing the
same work (log the loss every 100 batches, stop at a global step).

    python benchmarks/hook_callback_overhead.py [--steps 3000] [--repeats 5]

Target: HookCallback costs at most 5% more time (time ratio <= 1.05).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import logging  # noqa: E402

import keras_monitored as km  # noqa: E402
from benchmarks import common  # noqa: E402

EVERY = 100


class BareLoggingStop(keras.callbacks.Callback):
    """The same work written as a plain Keras callback."""

    def __init__(self, last_step):
        super().__init__()
        self.last_step = last_step
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        if self.count % EVERY == 0:
            logging.info("loss = %s", logs["loss"])
        self.count += 1
        if int(self.model.optimizer.iterations.numpy()) >= self.last_step:
            self.model.stop_training = True


def make_fit(callback_factory, steps, batch_size=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size * 100, 32)).astype("float32")
    y = x[:, :1] * 2.0
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(batch_size)
        .repeat()
        .prefetch(8)
    )
    model = keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    model.fit(dataset, steps_per_epoch=10, epochs=1, verbose=0)  # trace once

    def fit():
        model.optimizer.iterations.assign(0)
        model.fit(
            dataset,
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            callbacks=[callback_factory(steps)],
        )

    return fit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.set_verbosity(logging.WARNING)  # measure the work, not the terminal

    candidates = {
        "keras_callback": make_fit(BareLoggingStop, args.steps),
        "km_HookCallback": make_fit(
            lambda last: km.HookCallback(
                [
                    km.hooks.LoggingTensorHook(
                        {"loss": "loss"}, every_n_iter=EVERY
                    ),
                    km.hooks.StopAtStepHook(last_step=last),
                ]
            ),
            args.steps,
        ),
    }
    times = common.interleaved(candidates, args.repeats)
    result = common.report(
        "hook_callback_overhead",
        times,
        baseline="keras_callback",
        units={k: args.steps for k in candidates},
        target="time ratio <= 1.05",
    )
    ratio = result["results"]["km_HookCallback"]["time_ratio_to_baseline"]
    print(
        f"HookCallback time ratio: {ratio:.3f} ({'meets' if ratio <= 1.05 else 'misses'} the <= 1.05 target)"
    )


if __name__ == "__main__":
    main()
