"""The same standard hooks inside Keras `model.fit`, through km.HookCallback.

    python examples/fit_with_hooks.py                  # to step 1000
    python examples/fit_with_hooks.py --max_steps=500
    python examples/fit_with_hooks.py --strategy=mirrored --steps_per_loop=10

TF1's own hook objects (`tf.compat.v1.train.StopAtStepHook`) work here too.
Every flag it accepts is used; km's flags that mean nothing inside fit
(--save_summaries_steps, --keep_checkpoint_max, --async_checkpoint,
--checkpoint_input) are not defined, so absl refuses them. `kill -TERM`
finishes the batch, saves it and exits with code 42; a restart resumes.
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
    from examples.common import build_model, synthetic_dataset
except ImportError:  # pragma: no cover
    from common import build_model, synthetic_dataset

FLAGS = flags.FLAGS
km_flags.define_flags(
    exclude=(
        "save_summaries_steps",  # no SummarySaverHook here: fit writes none
        "keep_checkpoint_max",  # HookCallback keeps km's default, 5
        "async_checkpoint",  # HookCallback saves synchronously
        "checkpoint_input",  # fit owns its input iterator
    )
)
flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.", lower_bound=0.0)
FLAGS.set_default(
    "checkpoint_dir",
    os.path.join(tempfile.gettempdir(), "keras_monitored_fit_example"),
)
FLAGS.set_default("max_steps", 1000)


def main(argv):
    del argv
    # A directory that cannot be written fails now, naming its flag.
    km_flags.check_directories()
    strategy = km_flags.strategy_from_flags()
    with strategy.scope():
        model = build_model()
        model.compile(
            optimizer=keras.optimizers.SGD(FLAGS.learning_rate),
            loss="mse",
            steps_per_execution=FLAGS.steps_per_loop,
        )
    hooks = [
        tf.compat.v1.train.StopAtStepHook(
            last_step=FLAGS.max_steps
        ),  # TF1's object, translated
        km.hooks.NanTensorHook("loss"),
        km.hooks.LoggingTensorHook(
            {"step": "global_step", "loss": "loss"}, every_n_iter=100
        ),
        km.hooks.CheckpointSaverHook(
            FLAGS.checkpoint_dir,
            # Every 100 steps unless a flag says otherwise (both: the hook
            # refuses them, as TF1's did).
            save_steps=100
            if FLAGS.save_checkpoint_steps is None
            and FLAGS.save_checkpoint_secs is None
            else FLAGS.save_checkpoint_steps,
            save_secs=FLAGS.save_checkpoint_secs,
        ),
    ]
    if FLAGS.log_step_count_steps:
        hooks.append(
            km.hooks.StepCounterHook(
                every_n_steps=FLAGS.log_step_count_steps,
                output_dir=FLAGS.summary_dir or FLAGS.checkpoint_dir,
            )
        )
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
