"""The same standard hooks inside Keras `model.fit`, through km.HookCallback.

    python examples/fit_with_hooks.py                  # to step 1000
    python examples/fit_with_hooks.py --max_steps=500

TF1's own hook objects (`tf.compat.v1.train.StopAtStepHook`) work here too.
"""

from __future__ import annotations

import os
import tempfile

import keras
import tensorflow as tf
from absl import app, flags

import keras_monitored as km
from keras_monitored import flags as km_flags

try:  # run as a script or imported as examples.fit_with_hooks
    from examples.train import build_model, synthetic_dataset
except ImportError:  # pragma: no cover
    from train import build_model, synthetic_dataset

FLAGS = flags.FLAGS
km_flags.define_flags()
if "batch_size" not in FLAGS:
    flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
FLAGS.set_default(
    "checkpoint_dir",
    os.path.join(tempfile.gettempdir(), "keras_monitored_fit_example"),
)
FLAGS.set_default("max_steps", 1000)
FLAGS.set_default("save_checkpoint_steps", 100)


def main(argv):
    del argv
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    hooks = [
        tf.compat.v1.train.StopAtStepHook(
            last_step=FLAGS.max_steps
        ),  # TF1's object, translated
        km.hooks.NanTensorHook("loss"),
        km.hooks.LoggingTensorHook(
            {"step": "global_step", "loss": "loss"}, every_n_iter=100
        ),
        km.hooks.StepCounterHook(
            every_n_steps=100, output_dir=FLAGS.checkpoint_dir
        ),
        km.hooks.CheckpointSaverHook(
            FLAGS.checkpoint_dir, save_steps=FLAGS.save_checkpoint_steps
        ),
    ]
    hook_callback = km.HookCallback(hooks)  # SIGTERM: save, stop, exit 42
    history = model.fit(
        synthetic_dataset(FLAGS.batch_size),
        epochs=10**6,  # the StopAtStepHook ends training
        steps_per_epoch=100,
        verbose=0,
        callbacks=[hook_callback],
    )
    step = int(model.optimizer.iterations.numpy())
    print(
        f"done global_step={step} loss={history.history['loss'][-1]:.5f} "
        f"checkpoint={tf.train.latest_checkpoint(FLAGS.checkpoint_dir)}",
        flush=True,
    )
    return km.PREEMPTED_EXIT_CODE if hook_callback.preempted else 0


if __name__ == "__main__":
    app.run(main)
