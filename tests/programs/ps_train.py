"""A parameter-server training binary for tests: one program for the three
roles (TF_CONFIG's task decides). The chief trains the example model with
StopAtStepHook (--max_steps), the default CheckpointSaverHook, a
LoggingTensorHook, a SummarySaverHook on the loss and a hook written the
TF1 way (a `tf.compat.v1.train.SessionRunHook` subclass) that appends
"step loss" lines to --trace_file every --trace_every steps.

The chief prints `start global_step=N` and `done global_step=N`; a lost
parameter server makes it exit with code 3 after printing the error."""

from __future__ import annotations

import os
import sys

import keras
import tensorflow as tf
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

import keras_monitored as km  # noqa: E402
from examples.common import build_model, synthetic_dataset  # noqa: E402
from keras_monitored import flags as km_flags  # noqa: E402

FLAGS = flags.FLAGS
km_flags.define_flags()
flags.DEFINE_string("trace_file", None, "Where the TF1 hook writes.")
flags.DEFINE_integer("trace_every", 10, "Steps between the TF1 hook's lines.")
flags.DEFINE_enum(
    "feed",
    "dataset",
    ["dataset", "iterator"],
    "What feeds the step: the dataset, or an iterator made on the chief.",
)
flags.DEFINE_bool(
    "checkpoint_model", True, "False: the scaffold leaves the model out."
)
FLAGS.set_default("save_checkpoint_steps", 50)
FLAGS.set_default("log_step_count_steps", 50)


class TraceHook(tf.compat.v1.train.SessionRunHook):
    """Written as TF1 hooks are: fetches by name in before_run."""

    def __init__(self, path, every):
        self._path = path
        self._every = every
        self._step = 0

    def after_create_session(self, session, coord):
        self._step = int(session.run(tf.compat.v1.train.get_global_step()))

    def before_run(self, run_context):
        if (self._step + 1) % self._every == 0:
            return tf.compat.v1.train.SessionRunArgs(
                {"loss": "loss", "step": "global_step"}
            )
        return None

    def after_run(self, run_context, run_values):
        self._step += 1
        if run_values.results:
            with open(self._path, "a") as handle:
                handle.write(
                    f"{run_values.results['step']} {run_values.results['loss']:.6f}\n"
                )


def main(argv):
    del argv
    km_flags.run_server()
    strategy = km_flags.strategy_from_flags()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(0.05)
    dataset = synthetic_dataset(32)
    if FLAGS.feed == "iterator":
        dataset = iter(dataset)

    def train_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    hooks = [
        km.hooks.LoggingTensorHook(
            {"step": "global_step", "loss": "loss"}, every_n_iter=50
        ),
        km.hooks.SummarySaverHook(
            save_steps=25, output_dir=FLAGS.checkpoint_dir, summary_op="loss"
        ),
        TraceHook(FLAGS.trace_file, FLAGS.trace_every),
    ]
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        if FLAGS.checkpoint_model
        else tf.train.Checkpoint()
    )
    try:
        with km_flags.session_from_flags(
            scaffold=scaffold, hooks=hooks, strategy=strategy
        ) as sess:
            print(
                f"start global_step={int(km.get_global_step().numpy())}",
                flush=True,
            )
            while not sess.should_stop():
                sess.run(train_step, feed_dict={"batch": dataset})
    except km.ParameterServerLostError as error:
        print(f"lost: {error}", flush=True)
        return 3
    print(f"done global_step={int(km.get_global_step().numpy())}", flush=True)
    return 0


if __name__ == "__main__":
    app.run(main)
