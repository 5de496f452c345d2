"""A small training binary on synthetic data, run by km.MonitoredTrainingSession.

It fits a two-layer Keras model to a noisy linear function, checkpoints to
`--checkpoint_dir` (a fixed directory under the system temp dir by default)
and resumes from the latest checkpoint when run again.

    python examples/train.py                 # trains to --max_steps
    python examples/train.py --max_steps=2000  # run again: continues
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
import keras

import keras_monitored as km

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "checkpoint_dir",
    os.path.join(tempfile.gettempdir(), "keras_monitored_example"),
    "Where checkpoints (and TensorBoard logs) go; a second run resumes here.",
)
flags.DEFINE_integer("max_steps", 1000, "Global step to stop at.", lower_bound=1)
flags.DEFINE_integer("save_checkpoint_steps", 100, "Checkpoint every N steps.", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Examples per step.", lower_bound=1)
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.", lower_bound=0.0)
flags.DEFINE_integer("log_every_n_steps", 100, "Log the loss every N steps.", lower_bound=1)

NUM_FEATURES = 8


def synthetic_dataset(batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """An endless stream of (x, y) with y = x . w + 0.5 + noise."""
    rng = np.random.default_rng(seed)
    true_weights = rng.normal(size=(NUM_FEATURES, 1)).astype(np.float32)
    x = rng.normal(size=(4096, NUM_FEATURES)).astype(np.float32)
    y = x @ true_weights + 0.5 + 0.01 * rng.normal(size=(4096, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch_size, drop_remainder=True)


def build_model() -> keras.Model:
    """The model the example trains (built, so checkpoints restore at once)."""
    return keras.Sequential(
        [
            keras.Input(shape=(NUM_FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def weights_digest(model: keras.Model) -> str:
    """A short fingerprint of the model's weights."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


class LossLogger(km.SessionRunHook):
    """Logs `step: N | loss: L` every N steps."""

    def __init__(self, every_n_steps: int):
        self._every = every_n_steps

    def before_run(self, run_context):
        return km.SessionRunArgs({"step": "global_step", "loss": "loss"})

    def after_run(self, run_context, run_values):
        step, loss = int(run_values.results["step"]), float(run_values.results["loss"])
        if step % self._every == 0:
            logging.info("step: %d | loss: %.5f", step, loss)


def main(argv):
    del argv
    model = build_model()
    optimizer = keras.optimizers.SGD(FLAGS.learning_rate)
    loss_fn = keras.losses.MeanSquaredError()

    def train_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    scaffold = km.Scaffold(checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer))
    batches = iter(synthetic_dataset(FLAGS.batch_size))
    hooks = [km.StopAtStepHook(last_step=FLAGS.max_steps), LossLogger(FLAGS.log_every_n_steps)]
    with km.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.checkpoint_dir,
        scaffold=scaffold,
        hooks=hooks,
        save_checkpoint_steps=FLAGS.save_checkpoint_steps,
    ) as sess:
        # A read through `sess.run` would run the hooks too; read the variable.
        start = int(km.get_global_step().numpy())
        print(f"start global_step={start} weights_digest={weights_digest(model)}", flush=True)
        outputs = {}
        while not sess.should_stop():
            outputs = sess.run(train_step, feed_dict={"batch": batches})
        end = int(km.get_global_step().numpy())
    print(
        f"done global_step={end} loss={float(outputs.get('loss', float('nan'))):.5f} "
        f"checkpoint={tf.train.latest_checkpoint(FLAGS.checkpoint_dir)}",
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
