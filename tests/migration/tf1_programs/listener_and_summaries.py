"""A TF1 program in the shape tf_upgrade_v2 leaves (km-migrate test program 2):
`tf.compat.v1` names, argparse flags passed through `tf.compat.v1.app.run`,
graph summaries written by a SummarySaverHook, and a CheckpointSaverListener
that records each save. Runs under TF 2.x in TF1 mode."""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

FLAGS = None


class SaveRecorder(tf.compat.v1.train.CheckpointSaverListener):
    """Records every save, and whether its file is already there."""

    def __init__(self):
        self.saves = []

    def after_save(self, session, global_step_value):
        latest = tf.train.latest_checkpoint(FLAGS.train_dir)
        self.saves.append(
            [int(global_step_value), latest.endswith("-%d" % global_step_value)]
        )

    def end(self, session, global_step_value):
        self.saves.append(["end", int(global_step_value)])


def main(_):
    rng = np.random.RandomState(1)
    x = rng.randn(32, 3).astype(np.float32)
    y = (x @ np.array([[0.5], [-1.0], [2.0]], np.float32)).astype(np.float32)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(4)
    features, labels = tf.compat.v1.data.make_one_shot_iterator(
        dataset
    ).get_next()
    weights = tf.compat.v1.get_variable(
        "weights", initializer=np.full((3, 1), 0.2, np.float32)
    )
    loss = tf.reduce_mean(
        tf.square(tf.matmul(features, weights) - labels), name="loss"
    )
    tf.compat.v1.summary.scalar("loss", loss)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(
        FLAGS.learning_rate
    ).minimize(loss, global_step=global_step)

    recorder = SaveRecorder()
    hooks = [
        tf.compat.v1.train.StopAtStepHook(last_step=FLAGS.max_steps),
        tf.compat.v1.train.CheckpointSaverHook(
            FLAGS.train_dir, save_steps=10, listeners=[recorder]
        ),
        tf.compat.v1.train.SummarySaverHook(
            save_steps=5,
            output_dir=FLAGS.train_dir,
            summary_op=tf.compat.v1.summary.merge_all(),
        ),
    ]
    with tf.compat.v1.train.MonitoredSession(hooks=hooks) as sess:
        while not sess.should_stop():
            sess.run(train_op)
    print(json.dumps({"saves": recorder.saves}), flush=True)


if __name__ == "__main__":
    tf.compat.v1.disable_eager_execution()
    parser = argparse.ArgumentParser()
    parser.add_argument("--train_dir", default="/tmp/tf1_listener")
    parser.add_argument("--max_steps", type=int, default=30)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    FLAGS, unparsed = parser.parse_known_args()
    tf.compat.v1.app.run(main=main, argv=[sys.argv[0]] + unparsed)
