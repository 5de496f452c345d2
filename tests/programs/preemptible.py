"""Trains until told to stop, for SIGTERM tests: a MonitoredTrainingSession
(`--mode=session`) or model.fit with km.HookCallback (`--mode=fit`).

Each step takes ~20 ms (so a signal usually lands inside one) and prints
`step <global step>` once it completed. At the end it prints

    result {"preempted": ..., "global_step": ..., "end_steps": [...]}

(`end_steps`: the global step each hook's `end` saw) and exits with
km.PREEMPTED_EXIT_CODE when preempted. Checkpoints are saved only at the
start and by `end`, so the checkpoint at the last step is the preemption's.
"""

from __future__ import annotations

import json
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", None, "Where to save.", required=True)
flags.DEFINE_enum("mode", "session", ["session", "fit"], "What trains.")


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_monitored as km

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.01)

    class Report(km.SessionRunHook):
        def __init__(self):
            self.end_steps = []

        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            print(f"step {run_values.results}", flush=True)

        def end(self, session):
            self.end_steps.append(int(session.run("global_step")))

    report = Report()
    never = km.hooks.StopAtStepHook(last_step=10**9)
    if FLAGS.mode == "session":
        x = tf.ones([4, 2])

        def slow(value):
            time.sleep(0.02)
            return value

        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return {"loss": tf.py_function(slow, [loss], tf.float32)}

        with km.MonitoredTrainingSession(
            checkpoint_dir=FLAGS.checkpoint_dir,
            scaffold=km.Scaffold(
                checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
            ),
            save_checkpoint_steps=10**9,
            hooks=[never, report],
        ) as sess:
            while not sess.should_stop():
                sess.run(step)
            preempted = sess.preempted
    else:

        class Slow(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                time.sleep(0.02)

        model.compile(optimizer=optimizer, loss="mse")
        callback = km.HookCallback(
            [
                km.hooks.CheckpointSaverHook(
                    FLAGS.checkpoint_dir, save_steps=10**9
                ),
                never,
                report,
            ]
        )
        model.fit(
            np.ones((64, 2), np.float32),
            np.ones((64, 1), np.float32),
            batch_size=4,
            epochs=10**6,
            verbose=0,
            callbacks=[Slow(), callback],
        )
        preempted = callback.preempted
    result = {
        "preempted": preempted,
        "global_step": int(km.get_global_step().numpy())
        if FLAGS.mode == "session"
        else int(optimizer.iterations.numpy()),
        "end_steps": report.end_steps,
    }
    print("result " + json.dumps(result), flush=True)
    return km.PREEMPTED_EXIT_CODE if preempted else 0


if __name__ == "__main__":
    app.run(main)
