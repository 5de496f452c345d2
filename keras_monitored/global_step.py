"""The global step: one int64 variable per process that counts training steps.

It is the variable `tf.compat.v1.train.get_global_step()` returns, so legacy
hook code that looks the global step up keeps working.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_monitored import _compat, _validation


def get_global_step() -> tf.Variable | None:
    """Returns the global step variable, or None if none was created.

    Returns:
      The scalar integer `tf.Variable` registered as the global step.

    Raises:
      RuntimeError: more than one global step is registered.
    """
    registered = _compat.global_step_collection()
    if not registered:
        return None
    if len(registered) > 1:
        raise RuntimeError(
            f"More than one global step is registered: {registered}. Pass the "
            "one to use as `km.Scaffold(global_step=...)`."
        )
    return registered[0]


def get_or_create_global_step() -> tf.Variable:
    """Returns the global step, creating it (int64, 0) if needed.

    The variable is created eagerly under the current `tf.distribute` strategy
    scope with `ONLY_FIRST_REPLICA` aggregation, as TF1 created it.

    Returns:
      The global step `tf.Variable`.
    """
    step = get_global_step()
    if step is not None:
        return step
    with tf.init_scope():
        step = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="global_step",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
    _compat.global_step_collection().append(step)
    return step


def check_global_step(name: str, value: Any) -> Any:
    """Validates a variable given as a global step.

    Raises:
      TypeError: `value` is not a scalar integer variable (TF or Keras).
    """
    if (
        not _compat.is_variable(value)
        or not _compat.variable_dtype(value).is_integer
        or tuple(value.shape) != ()
    ):
        raise TypeError(
            _validation.invalid(
                name,
                value,
                "a scalar integer tf.Variable (e.g. `optimizer.iterations`)",
            )
        )
    return value


def reset_global_step() -> None:
    """Forgets the registered global step; the next session creates a new one.

    TF1 had one global step per graph and tests used a fresh graph each time;
    in TF2 there is one per process, so tests (and programs that train several
    independent models in one process) call this between runs.
    """
    del _compat.global_step_collection()[:]
