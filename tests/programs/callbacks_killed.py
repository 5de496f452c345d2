"""A training program for crash tests of Keras callbacks: the scenario of
tests/callback_scenarios.py (4 epochs x 10 steps) with BackupAndRestore
and/or km checkpoints and a CSVLogger, in a km session (CallbackHook) or in
model.fit (HookCallback); `--kill_at_step` SIGKILLs the process itself.

It prints one JSON line at the end: the global step, the optimizer's
iterations, the steps this process trained, and the weights."""

from __future__ import annotations

import json
import os
import signal
import sys

import keras
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

import keras_monitored as km  # noqa: E402
from tests import callback_scenarios as scenario  # noqa: E402

flags.DEFINE_enum("mode", "session", ["session", "fit"], "Where to train.")
flags.DEFINE_string("checkpoint_dir", "", "km checkpoints ('': none).")
flags.DEFINE_string(
    "backup_dir", "", "BackupAndRestore's directory ('': none)."
)
flags.DEFINE_string("csv", None, "CSVLogger file.", required=True)
flags.DEFINE_integer("kill_at_step", 0, "SIGKILL after this step (0: never).")
flags.DEFINE_integer("save_checkpoint_steps", 15, "km checkpoint interval.")
FLAGS = flags.FLAGS


class KillAt(km.SessionRunHook):
    def __init__(self, step):
        self.step = step
        self.steps_run = 0

    def before_run(self, run_context):
        return km.SessionRunArgs("global_step")

    def after_run(self, run_context, run_values):
        self.steps_run += 1
        if self.step and run_values.results >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv):
    del argv
    model = scenario.build_model()
    killer = KillAt(FLAGS.kill_at_step)
    callbacks = []
    if FLAGS.backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(FLAGS.backup_dir))
    if FLAGS.mode == "session":
        callbacks.append(keras.callbacks.CSVLogger(FLAGS.csv))
        scenario.session(
            model,
            callbacks,
            checkpoint_dir=FLAGS.checkpoint_dir or None,
            save_checkpoint_steps=FLAGS.save_checkpoint_steps,
            hooks=[killer],
            checkpoint_input=bool(FLAGS.checkpoint_dir),
        )
        global_step = int(km.get_global_step().numpy())
    else:
        hooks = [killer]
        if FLAGS.checkpoint_dir:
            hooks.insert(
                0,
                km.hooks.CheckpointSaverHook(
                    FLAGS.checkpoint_dir, save_steps=FLAGS.save_checkpoint_steps
                ),
            )
        callbacks += [
            km.HookCallback(hooks),
            keras.callbacks.CSVLogger(FLAGS.csv, append=True),
        ]
        scenario.fit(model, callbacks)
        global_step = int(model.optimizer.iterations.numpy())
    print(
        json.dumps(
            {
                "global_step": global_step,
                "iterations": int(model.optimizer.iterations.numpy()),
                "steps_run": killer.steps_run,
                "weights": [
                    w.ravel().tolist() for w in scenario.weights(model)
                ],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
