"""TF1 training programs whose `tf.compat.v1.train.Saver` checkpoints the
tests convert.

Graph mode, as a TF1 program ran. `tf.compat.v1.layers` is unavailable with
Keras 3, so each layer is what `tf.layers` built: a variable scope named
`<layer>`, `<layer>_1`, ... with `get_variable("kernel")` etc. and raw ops.
That gives exactly the names tf.layers gave (`conv2d/kernel`,
`batch_normalization/moving_mean`, `dense_1/bias`).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1

BATCH = 8
IMAGE = (8, 8, 3)
FEATURES = 16
OUTPUTS = 2
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


def _dense(x, units, scope):
    with tf1.variable_scope(scope):
        kernel = tf1.get_variable("kernel", [int(x.shape[-1]), units])
        bias = tf1.get_variable(
            "bias", [units], initializer=tf1.zeros_initializer()
        )
    return tf.matmul(x, kernel) + bias


def _batch_norm(x, training):
    channels = int(x.shape[-1])
    with tf1.variable_scope("batch_normalization"):
        gamma = tf1.get_variable(
            "gamma", [channels], initializer=tf1.ones_initializer()
        )
        beta = tf1.get_variable(
            "beta", [channels], initializer=tf1.zeros_initializer()
        )
        moving_mean = tf1.get_variable(
            "moving_mean",
            [channels],
            initializer=tf1.zeros_initializer(),
            trainable=False,
        )
        moving_variance = tf1.get_variable(
            "moving_variance",
            [channels],
            initializer=tf1.ones_initializer(),
            trainable=False,
        )
    if training:
        mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
        for moving, batch in ((moving_mean, mean), (moving_variance, variance)):
            update = moving.assign(
                moving * BN_MOMENTUM + batch * (1.0 - BN_MOMENTUM)
            )
            tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS, update)
    else:
        mean, variance = moving_mean, moving_variance
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, BN_EPSILON)


def conv_bn_dense(x, training):
    """conv2d(4, 3x3, valid, relu) -> batch_normalization -> flatten -> dense."""
    with tf1.variable_scope("conv2d"):
        kernel = tf1.get_variable("kernel", [3, 3, 3, 4])
        bias = tf1.get_variable(
            "bias", [4], initializer=tf1.zeros_initializer()
        )
    # The relu keeps the conv bias's gradient away from zero (a bias right
    # before batch norm gets only rounding noise, which Adam amplifies).
    h = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="VALID") + bias)
    h = _batch_norm(h, training)
    h = tf.reshape(h, [-1, 6 * 6 * 4])
    return _dense(h, OUTPUTS, "dense")


def dense_stack(x, training):
    """dense(4) -> dense_1(2) on 16 features."""
    del training
    return _dense(_dense(x, 4, "dense"), OUTPUTS, "dense_1")


def flat_names(x, training):
    """One dense layer whose variables are named `w1`, `b1` (no scope)."""
    del training
    w1 = tf1.get_variable("w1", [FEATURES, OUTPUTS])
    b1 = tf1.get_variable("b1", [OUTPUTS], initializer=tf1.zeros_initializer())
    return tf.matmul(x, w1) + b1


MODELS = {
    "conv_bn_dense": (conv_bn_dense, IMAGE),
    "dense_stack": (dense_stack, (FEATURES,)),
    "flat_names": (flat_names, (FEATURES,)),
}


def batch(model, seed):
    """A batch (x, y) of `model`'s input shape, the same for a given seed."""
    rng = np.random.default_rng(seed)
    shape = MODELS[model][1]
    x = rng.normal(size=(BATCH, *shape)).astype(np.float32)
    y = rng.normal(size=(BATCH, OUTPUTS)).astype(np.float32)
    return x, y


def _optimizer(name, learning_rate):
    if name == "adam":
        return tf1.train.AdamOptimizer(learning_rate)  # epsilon 1e-8
    if name == "momentum":
        return tf1.train.MomentumOptimizer(learning_rate, momentum=0.9)
    raise ValueError(name)


class Program:
    """One TF1 graph: training and inference branches, a Saver."""

    def __init__(self, model, optimizer, learning_rate, seed=0):
        build, shape = MODELS[model]
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf1.set_random_seed(seed)
            self.x = tf1.placeholder(tf.float32, [None, *shape], name="x")
            self.y = tf1.placeholder(tf.float32, [None, OUTPUTS], name="y")
            self.global_step = tf1.train.get_or_create_global_step()
            prediction = build(self.x, training=True)
            with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
                self.inference = build(self.x, training=False)
            self.loss = tf.reduce_mean(tf.square(prediction - self.y))
            with tf.control_dependencies(
                tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
            ):
                self.train_op = _optimizer(optimizer, learning_rate).minimize(
                    self.loss, global_step=self.global_step
                )
            self.saver = tf1.train.Saver()
            self.init = tf1.global_variables_initializer()
            self.variables = {v.op.name: v for v in tf1.global_variables()}
        self.session = tf1.Session(graph=self.graph)

    def close(self):
        self.session.close()

    def values(self):
        """Every global variable's value, by TF1 name."""
        names = sorted(self.variables)
        found = self.session.run([self.variables[n] for n in names])
        return dict(zip(names, found))

    def step(self, x, y):
        self.session.run(self.train_op, {self.x: x, self.y: y})

    def predict(self, x):
        return self.session.run(self.inference, {self.x: x})


def train_and_save(directory, model, optimizer, steps, learning_rate, seed=0):
    """Trains `steps` steps on seeded batches and saves; returns the prefix."""
    program = Program(model, optimizer, learning_rate, seed)
    try:
        program.session.run(program.init)
        for step in range(steps):
            program.step(*batch(model, seed + 1 + step))
        os.makedirs(directory, exist_ok=True)
        with program.graph.as_default():
            return program.saver.save(
                program.session,
                os.path.join(directory, "model.ckpt"),
                global_step=program.global_step,
            )
    finally:
        program.close()


def restore(prefix, model, optimizer, learning_rate):
    """A `Program` with the checkpoint at `prefix` restored (close it)."""
    program = Program(model, optimizer, learning_rate)
    with program.graph.as_default():
        program.saver.restore(program.session, prefix)
    return program
