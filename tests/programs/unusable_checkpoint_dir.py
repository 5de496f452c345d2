"""A checkpoint directory that stops being usable, in a process of its own.

--mode=disk_full: saves at steps 0 and 1, then limits the size of any file
this process writes (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG,
as on a full disk) and runs step 2, whose save must fail.
--mode=no_permission: the directory exists but this process may not write
it (run by root, the program becomes user `nobody` once TensorFlow is
loaded: root writes anywhere).

Prints `error <type>: <message>` for the error raised and `latest <path>`
for the latest checkpoint afterwards; exits 0 once it printed them.
"""

from __future__ import annotations

import os
import resource
import signal

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint_dir", None, "Where to save.", required=True)
flags.DEFINE_enum("mode", "disk_full", ["disk_full", "no_permission"], "")


def main(argv):
    del argv
    import tensorflow as tf

    import keras_monitored as km

    big = tf.Variable(tf.zeros([256 * 1024]))  # a 1 MiB data file
    if FLAGS.mode == "no_permission" and os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)

    def step():
        big.assign_add(tf.ones_like(big))
        return {}

    try:
        with km.MonitoredTrainingSession(
            checkpoint_dir=FLAGS.checkpoint_dir,
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(big=big)),
            save_checkpoint_steps=1,
        ) as sess:
            sess.run(step)  # saves step 1
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(
                resource.RLIMIT_FSIZE,
                (64 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]),
            )
            sess.run(step)  # its save cannot be written
    except Exception as error:  # pylint: disable=broad-except
        print(f"error {type(error).__name__}: {error}", flush=True)
    print(
        f"latest {tf.train.latest_checkpoint(FLAGS.checkpoint_dir)}", flush=True
    )


if __name__ == "__main__":
    app.run(main)
