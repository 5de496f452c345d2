"""train_tf1.py migrated to keras_monitored: the same model, data, hooks and
checkpoints, in TF2 (eager, tf.function).

What changed (see docs/migration_guide.md for the walk-through):
  - tf.app.flags          -> absl flags + keras_monitored.flags
  - graph + train_op      -> a step function returning {"loss": loss}
  - tf.get_variable       -> tf.Variable (a tf.train.Checkpoint names them)
  - hooks holding tensors -> hooks naming step outputs ("loss")
  - tf.train.MonitoredTrainingSession -> km flags' MonitoredTrainingSession

Pointed at train_tf1.py's --checkpoint_dir, it resumes TF1's checkpoint: its
variables keep TF1's names (w1, b1, w2, b2, global_step), so km restores the
name-based checkpoint by name.
"""

from __future__ import annotations

import json
import os
import sys

import tensorflow as tf
from absl import app, flags

import keras_monitored as km
from keras_monitored import flags as km_flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import BATCH, data, initial_weights  # noqa: E402  (the same data and weights)

FLAGS = flags.FLAGS
km_flags.define_flags()
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.")
FLAGS.set_default("checkpoint_dir", "/tmp/km_example")
FLAGS.set_default("max_steps", 300)
FLAGS.set_default("save_checkpoint_steps", 100)


def main(argv):
    del argv
    x, y = data()
    w1_init, w2_init = initial_weights()
    # --strategy: variables are created under its scope, and the dataset
    # is distributed to its replicas.
    strategy = km_flags.strategy_from_flags()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(BATCH)
    if strategy is not tf.distribute.get_strategy():
        dataset = strategy.experimental_distribute_dataset(dataset)
    batches = iter(dataset)
    with strategy.scope():
        w1 = tf.Variable(w1_init, name="w1")
        b1 = tf.Variable(tf.zeros([16]), name="b1")
        w2 = tf.Variable(w2_init, name="w2")
        b2 = tf.Variable(tf.zeros([1]), name="b2")
    variables = [w1, b1, w2, b2]

    def train_step(batch):
        features, labels = batch
        with tf.GradientTape() as tape:
            predictions = (
                tf.matmul(tf.nn.relu(tf.matmul(features, w1) + b1), w2) + b2
            )
            loss = tf.reduce_mean(tf.square(predictions - labels))
        for variable, grad in zip(variables, tape.gradient(loss, variables)):
            variable.assign_sub(FLAGS.learning_rate * grad)
        return {"loss": loss}

    losses = []

    # The TF1 hook, unchanged but for its fetch: a step-output name.
    class RecordLoss(tf.compat.v1.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.compat.v1.train.SessionRunArgs("loss")

        def after_run(self, run_context, run_values):
            losses.append(float(run_values.results))

    hooks = [
        km.hooks.NanTensorHook("loss"),
        km.hooks.LoggingTensorHook(
            {"loss": "loss", "step": "global_step"}, every_n_iter=100
        ),
        RecordLoss(),
    ]
    scaffold = km.Scaffold(checkpoint=dict(w1=w1, b1=b1, w2=w2, b2=b2))
    with km_flags.session_from_flags(
        scaffold=scaffold, hooks=hooks, strategy=strategy
    ) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": batches})
    print(json.dumps({"losses": losses}), flush=True)


if __name__ == "__main__":
    app.run(main)
