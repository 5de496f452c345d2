"""A training run that kills itself with SIGKILL after a number of steps:
what a killed km process leaves on disk.

    python tests/programs/killed_after_steps.py DIRECTORY STEPS

tests/test_crash_resume.py runs `train` in-process too, and compares what
`tests.crash.abandon` leaves with what the real kill left.
"""

from __future__ import annotations

import os
import signal

from absl import app


def train(directory: str, steps: int):
    """Runs `steps` steps of a run that checkpoints and records a summary on
    every step; returns the session, still open."""
    import tensorflow as tf

    import keras_monitored as km

    weight = tf.Variable(0.0)

    def step():
        weight.assign_add(1.0)
        tf.summary.scalar("w", weight)
        return {"w": weight.read_value()}

    session = km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_steps=1,
        save_summaries_steps=1,
        log_step_count_steps=None,
        hooks=[km.StopAtStepHook(last_step=100)],
    )
    for _ in range(steps):
        session.run(step)
    return session


def main(argv):
    _, directory, steps = argv
    train(directory, int(steps))
    os.kill(os.getpid(), signal.SIGKILL)  # mid-run: 100 steps were asked


if __name__ == "__main__":
    app.run(main)
