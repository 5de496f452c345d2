"""A session that checkpoints after every step, for SIGKILL soaks.

Its two variables have closed-form values at every global step N
(`expected_values`), so whoever restarts it can check that what it restored
is complete and belongs to the step it claims. It prints

    start <step> <counter> <total>      (what the session restored)
    done <step> <counter> <total>       (after the last step)

and the restored values are also checked in-process (exit code 3 on a
mismatch). The big variable (~2 MB) makes each save take long enough that
random kills often land in the middle of one.
"""

from __future__ import annotations

import sys

from absl import app, flags

FLAGS = flags.FLAGS
SIZE = 512 * 1024  # float32 elements: 2 MiB


def define_flags() -> None:
    """Defined when run as a program (tests import `expected_values`)."""
    flags.DEFINE_string("checkpoint_dir", None, "Where to save.", required=True)
    flags.DEFINE_integer("last_step", 100000, "Global step to stop at.")
    flags.DEFINE_integer("save_steps", 1, "Checkpoint every N steps.")


def expected_values(step: int) -> tuple[float, float]:
    """(counter, mean of the big variable) after `step` steps: the counter
    adds 1 per step, the big variable adds 1 + (step % 7) at each step."""
    counter = float(step)
    total = float(sum(1 + (s % 7) for s in range(step)))
    return counter, total


def main(argv):
    del argv
    import tensorflow as tf

    import keras_monitored as km

    counter = tf.Variable(0.0)
    big = tf.Variable(tf.zeros([SIZE]))

    def step():
        increment = 1.0 + tf.cast(km.get_global_step() % 7, tf.float32)
        big.assign_add(tf.fill([SIZE], increment))
        counter.assign_add(1.0)
        return {"counter": counter.read_value()}

    def observed() -> tuple[int, float, float]:
        return (
            int(km.get_global_step().numpy()),
            float(counter.numpy()),
            float(tf.reduce_mean(big).numpy()),
        )

    with km.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.checkpoint_dir,
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(counter=counter, big=big)
        ),
        save_checkpoint_steps=FLAGS.save_steps,
        save_summaries_steps=None,
        log_step_count_steps=None,
        hooks=[km.hooks.StopAtStepHook(last_step=FLAGS.last_step)],
        preemption_signals=(),
    ) as sess:
        start, got_counter, got_total = observed()
        print(f"start {start} {got_counter} {got_total}", flush=True)
        if (got_counter, got_total) != expected_values(start):
            print(f"restored values do not match step {start}", flush=True)
            sys.exit(3)
        while not sess.should_stop():
            sess.run(step)
    end, got_counter, got_total = observed()
    print(f"done {end} {got_counter} {got_total}", flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
