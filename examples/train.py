"""A training binary on synthetic data, run by km.MonitoredTrainingSession.

It fits a small Keras model to a noisy linear function with the standard
hooks (logging, NaN guard, step counter, summaries, checkpoints), a Keras
callback (CSVLogger, through km.CallbackHook) and a progress bar. Every
setting has a default, so it runs with no flags; run it again and it resumes
from its last checkpoint. `kill -TERM` finishes the step in progress, saves
it and exits with code 42 (km.PREEMPTED_EXIT_CODE); a restart resumes there.

    python examples/train.py                          # trains to step 1000
    python examples/train.py --max_steps=2000         # continues to 2000
    python examples/train.py --strategy=mirrored --steps_per_loop=50
    python examples/train.py --checkpoint_input     # resume mid-dataset exactly
    tensorboard --logdir "$TMPDIR/keras_monitored_example"

Under --strategy=multi_worker_mirrored, start one process per TF_CONFIG task.
With `ps` tasks in TF_CONFIG (--strategy=auto picks parameter_server), the
same binary runs as any of the three roles: `worker` and `ps` tasks serve,
the `chief` trains (docs/distributed.md).
"""

from __future__ import annotations

import os
import tempfile

import keras
import tensorflow as tf
from absl import app, flags, logging

import keras_monitored as km
from keras_monitored import flags as km_flags

try:  # run as a script or imported as examples.train
    from examples.common import build_model, synthetic_dataset, weights_digest
except ImportError:  # pragma: no cover
    from common import build_model, synthetic_dataset, weights_digest

FLAGS = flags.FLAGS
km_flags.define_flags()
flags.DEFINE_integer("batch_size", 32, "Global batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.", lower_bound=0.0)
flags.DEFINE_integer(
    "steps_per_epoch",
    100,
    "Steps per epoch for the Keras callbacks.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "log_every_n_steps", 100, "Log the loss every N steps.", lower_bound=1
)
flags.DEFINE_integer("seed", 0, "Random seed of the initial weights.")
FLAGS.set_default(
    "checkpoint_dir",
    os.path.join(tempfile.gettempdir(), "keras_monitored_example"),
)
FLAGS.set_default("max_steps", 1000)
FLAGS.set_default("save_checkpoint_steps", 100)
FLAGS.set_default("save_summaries_steps", 20)


def main(argv):
    del argv
    # A parameter-server job's worker and ps tasks serve here (and never
    # return); every other task goes on.
    km_flags.run_server()
    strategy = km_flags.strategy_from_flags()
    keras.utils.set_random_seed(FLAGS.seed)  # the same start in every run
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(FLAGS.learning_rate)
        model.compile(
            optimizer=optimizer
        )  # callbacks reach the optimizer through the model
    dataset = synthetic_dataset(FLAGS.batch_size)
    if isinstance(strategy, tf.distribute.ParameterServerStrategy):
        batches = dataset  # km iterates a copy of it on each worker
    else:
        if strategy is not tf.distribute.get_strategy():
            dataset = strategy.experimental_distribute_dataset(dataset)
        batches = iter(dataset)

    def train_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            per_example = tf.reduce_sum(
                (model(x, training=True) - y) ** 2, axis=1
            )
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=FLAGS.batch_size
            )
        grads = tape.gradient(loss, model.trainable_variables)
        km.expose("grad_norm", tf.linalg.global_norm(grads))
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        mean_loss = tf.reduce_mean(per_example)
        tf.summary.scalar(
            "loss", mean_loss
        )  # written every --save_summaries_steps
        return {"loss": mean_loss}

    hooks = [
        km.hooks.NanTensorHook("loss"),
        km.hooks.LoggingTensorHook(
            {"step": "global_step", "loss": "loss", "grad_norm": "grad_norm"},
            every_n_iter=FLAGS.log_every_n_steps,
        ),
    ]
    chief_only_hooks = [
        km.CallbackHook(
            [
                keras.callbacks.CSVLogger(
                    os.path.join(FLAGS.checkpoint_dir, "training_log.csv")
                )
            ],
            model=model,
            steps_per_epoch=FLAGS.steps_per_epoch,
        ),
        km.hooks.ProgressBarHook(tensors=["loss"]),
    ]
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    with km_flags.session_from_flags(
        scaffold=scaffold,
        hooks=hooks,
        chief_only_hooks=chief_only_hooks,
        strategy=strategy,
    ) as sess:
        start = int(km.get_global_step().numpy())
        print(
            f"start global_step={start} weights_digest={weights_digest(model)}",
            flush=True,
        )
        outputs = {}
        while not sess.should_stop():
            outputs = sess.run(train_step, feed_dict={"batch": batches})
        end = int(km.get_global_step().numpy())
    logging.info("Training finished at step %d.", end)
    print(
        f"done global_step={end} loss={float(outputs.get('loss', float('nan'))):.5f} "
        f"weights_digest={weights_digest(model)} "
        f"checkpoint={tf.train.latest_checkpoint(FLAGS.checkpoint_dir)}",
        flush=True,
    )
    print(f"checkpoints: {FLAGS.checkpoint_dir}", flush=True)
    print(
        f"tensorboard --logdir {FLAGS.summary_dir or FLAGS.checkpoint_dir}",
        flush=True,
    )
    # SIGTERM saved the step reached: a job manager restarts the binary and
    # it resumes there.
    return km.PREEMPTED_EXIT_CODE if sess.preempted else 0


if __name__ == "__main__":
    app.run(main)
