"""A training run that saves in the background after every step, with a large
variable so that each write takes a while; it never stops by itself.
tests/test_async_checkpoint.py kills it with SIGKILL while a write is in
flight and resumes from what it left.

    python tests/programs/async_saves_forever.py DIRECTORY
"""

from __future__ import annotations

from absl import app

# float32 elements of the large variable: 256 MB, about half a second to
# write on the test machines.
BIG_ELEMENTS = 64 * 1024 * 1024


def checkpoint_items():
    """The run's variables: `w` counts the steps, `big` slows the writes."""
    import tensorflow as tf

    return {
        "w": tf.Variable(0.0),
        "big": tf.Variable(tf.zeros([BIG_ELEMENTS])),
    }


def main(argv):
    _, directory = argv
    import keras_monitored as km

    items = checkpoint_items()
    weight = items["w"]

    def step():
        return {"w": weight.assign_add(1.0)}

    with km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(checkpoint=items),
        save_checkpoint_steps=1,
        save_summaries_steps=None,
        log_step_count_steps=None,
        max_to_keep=2,
        async_checkpoint=True,
    ) as sess:
        while not sess.should_stop():
            sess.run(step)


if __name__ == "__main__":
    app.run(main)
