"""Keras 3 twins of `tf1_graphs.dense_stack` and `tf1_graphs.flat_names`."""

import keras
import tensorflow as tf

MOMENTUM_LEARNING_RATE = 0.05


def build_dense_stack():
    """Dense(4) -> Dense(2) on 16 features.

    The layers have their own names, not TF1's `dense`/`dense_1`: only the
    layer-order rule can match them.
    """
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(4, name="hidden"),
            keras.layers.Dense(2, name="logits"),
        ]
    )


def build_adam():
    """TF1 AdamOptimizer() in Keras 3 (TF1's epsilon)."""
    return keras.optimizers.Adam(epsilon=1e-8)


def build_momentum():
    """TF1 MomentumOptimizer(0.05, momentum=0.9) in Keras 3."""
    return keras.optimizers.SGD(
        learning_rate=MOMENTUM_LEARNING_RATE, momentum=0.9
    )


def build_named_dense():
    """One Dense layer with a fixed name, for `--map '^w1$=dense/kernel'`."""
    return keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(2, name="dense")],
        name="mapped",
    )


class Linear(tf.Module):
    """A tf.Module (not Keras) with variables `linear/w1:0`, `linear/b1:0`."""

    def __init__(self):
        super().__init__(name="linear")
        with self.name_scope:
            self.w = tf.Variable(tf.zeros([16, 2]), name="w1")
            self.b = tf.Variable(tf.zeros([2]), name="b1")


def build_module():
    return Linear()
