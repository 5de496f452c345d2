"""The eager-mode guard: a TF1 program's graph mode, still switched on, is
refused at once with what to remove (instead of failing deep inside TF)."""

from __future__ import annotations

import tensorflow as tf

from keras_monitored import _compat


def check_eager(what: str) -> None:
    """Raises unless TensorFlow executes eagerly here.

    Args:
      what: what is being built (`km.MonitoredSession`), for the message.

    Raises:
      RuntimeError: eager execution is disabled for the process, a
        `tf.Graph` is the default graph, or a `tf.function` is being traced.
    """
    if _compat.eager_disabled_globally():
        raise RuntimeError(
            f"keras_monitored needs eager execution, but {what} is built in "
            "a process where tf.compat.v1.disable_v2_behavior() or "
            "tf.compat.v1.disable_eager_execution() turned it off (TF1 graph "
            "mode). Remove the disable_v2_behavior()/disable_eager_execution() "
            "call: km compiles the step function with tf.function itself."
        )
    if tf.executing_eagerly():
        return
    if _compat.building_function():
        raise RuntimeError(
            f"keras_monitored needs eager execution, but {what} is built "
            "inside a tf.function being traced. Build the session outside "
            "any tf.function and pass the step function to `run`: km "
            "compiles it with tf.function itself."
        )
    raise RuntimeError(
        f"keras_monitored needs eager execution, but {what} is built while a "
        "tf.Graph is the default graph (TF1 graph mode). Remove the `with "
        "tf.Graph().as_default():` around the training loop: in TF2 the "
        "model, the variables and the session are created eagerly, and km "
        "compiles the step function with tf.function."
    )
