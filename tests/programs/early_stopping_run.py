"""A training program for crash tests: Keras callbacks (EarlyStopping,
CSVLogger) inside km.MonitoredTrainingSession, 5 epochs, checkpoint at every
epoch end; `--kill_at_step` SIGKILLs the process itself mid-run.

It prints one JSON line at the end with EarlyStopping's state."""

from __future__ import annotations

import json
import os
import signal

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import keras_monitored as km

flags.DEFINE_string(
    "checkpoint_dir", None, "Checkpoint directory.", required=True
)
flags.DEFINE_string("csv", None, "CSVLogger file.", required=True)
flags.DEFINE_integer(
    "kill_at_step", 0, "SIGKILL this process after this global step (0: never)."
)
flags.DEFINE_string(
    "log_file", None, "Where LoggingTensorHook's lines (their steps) go."
)
FLAGS = flags.FLAGS

BATCH = 8
STEPS_PER_EPOCH = 8
EPOCHS = 5


def model_and_data():
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    # Learns during epoch 0 only; from epoch 1 on the loss is flat, so
    # EarlyStopping(patience=2) stops after epoch 3 -- if it remembers that
    # epoch 1 was its best.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [STEPS_PER_EPOCH - 1], [0.05, 0.0]
    )
    model.compile(optimizer=keras.optimizers.SGD(schedule))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS_PER_EPOCH, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(
        BATCH
    ).repeat()


class KillAt(km.SessionRunHook):
    def __init__(self, step):
        self.step = step

    def before_run(self, run_context):
        return km.SessionRunArgs("global_step")

    def after_run(self, run_context, run_values):
        if self.step and run_values.results >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv):
    del argv
    model, dataset = model_and_data()
    batches = iter(dataset)
    loss_fn = keras.losses.MeanSquaredError()

    def train_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    stopper = keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e-3, patience=2
    )
    callbacks = km.CallbackHook(
        [stopper, keras.callbacks.CSVLogger(FLAGS.csv)],
        model=model,
        steps_per_epoch=STEPS_PER_EPOCH,
    )
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    )

    def log_step(values):
        # The timer's state resumes too: a resumed run logs where an
        # uninterrupted one would.
        with open(FLAGS.log_file, "a") as handle:
            handle.write(f"{int(values['step'])}\n")
        return f"step = {int(values['step'])}"

    logger = km.hooks.LoggingTensorHook(
        {"step": "global_step"}, every_n_iter=5, formatter=log_step
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.checkpoint_dir,
        scaffold=scaffold,
        save_checkpoint_steps=STEPS_PER_EPOCH,
        save_summaries_steps=None,
        log_step_count_steps=None,
        # After MTS's default CheckpointSaverHook, as in TF1: their state
        # changes after each save, in the same phase.
        hooks=[
            callbacks,
            km.StopAtStepHook(last_step=EPOCHS * STEPS_PER_EPOCH),
            logger,
            KillAt(FLAGS.kill_at_step),
        ],
    ) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": batches})
    print(
        json.dumps(
            {
                "stopped_epoch": stopper.stopped_epoch,
                "best_epoch": stopper.best_epoch,
                "wait": stopper.wait,
                "best": float(stopper.best),
                "global_step": int(km.get_global_step().numpy()),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
