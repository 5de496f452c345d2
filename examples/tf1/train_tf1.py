"""A TF1 training program, as TF1 codebases wrote them: graph mode, tf.app
flags, tf.train.MonitoredTrainingSession and SessionRunHooks.

It runs under TF 2.x through tf.compat.v1 (what `tf_upgrade_v2` turns such
programs into). Its migrated twin is train_km.py.
"""

from __future__ import annotations

import json
import os
import sys

import tensorflow.compat.v1 as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import BATCH, data, initial_weights  # noqa: E402

tf.disable_v2_behavior()

flags = tf.app.flags
flags.DEFINE_string(
    "checkpoint_dir", "/tmp/tf1_example", "Checkpoint directory."
)
flags.DEFINE_integer("max_steps", 300, "Global step to stop at.")
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.")
FLAGS = flags.FLAGS


def main(_):
    x, y = data()
    w1_init, w2_init = initial_weights()
    global_step = tf.train.get_or_create_global_step()
    features, labels = tf.data.make_one_shot_iterator(
        tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH)
    ).get_next()
    w1 = tf.get_variable("w1", initializer=w1_init)
    b1 = tf.get_variable("b1", initializer=tf.zeros([16]))
    w2 = tf.get_variable("w2", initializer=w2_init)
    b2 = tf.get_variable("b2", initializer=tf.zeros([1]))
    predictions = tf.matmul(tf.nn.relu(tf.matmul(features, w1) + b1), w2) + b2
    loss = tf.reduce_mean(tf.square(predictions - labels), name="loss")
    train_op = tf.train.GradientDescentOptimizer(FLAGS.learning_rate).minimize(
        loss, global_step=global_step
    )

    losses = []

    class RecordLoss(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.train.SessionRunArgs(loss)

        def after_run(self, run_context, run_values):
            losses.append(float(run_values.results))

    hooks = [
        tf.train.StopAtStepHook(last_step=FLAGS.max_steps),
        tf.train.NanTensorHook(loss),
        tf.train.LoggingTensorHook(
            {"loss": loss, "step": global_step}, every_n_iter=100
        ),
        RecordLoss(),
    ]
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.checkpoint_dir,
        save_checkpoint_steps=100,
        hooks=hooks,
    ) as sess:
        while not sess.should_stop():
            sess.run(train_op)
    print(json.dumps({"losses": losses}), flush=True)


if __name__ == "__main__":
    tf.app.run(main)
