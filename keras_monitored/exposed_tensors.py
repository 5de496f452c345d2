"""`km.expose`: make an intermediate tensor of a step fetchable by name.

TF1 hooks could fetch any tensor of the graph (an activation, a gradient
norm). In TF2 a step function only hands back what it returns. Calling
`km.expose("grad_norm", g)` inside a step function publishes `g` under that
name for this step without changing what the step returns; hooks fetch it like
any other output (`LoggingTensorHook({"g": "grad_norm"}, every_n_iter=100)`).
The tensor stays on its device and costs a host transfer only on the steps
where a hook actually fetches it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import tensorflow as tf

from keras_monitored import _validation

_local = threading.local()


def _collectors() -> list[dict[str, Any]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def expose(name: str, value: Any) -> Any:
    """Publishes `value` under `name` for the step being run.

    Args:
      name: the fetch name hooks use. Must be a non-empty string and must not
        be `"global_step"` or the name of a returned output.
      value: a tensor (or anything `tf.convert_to_tensor` accepts).

    Returns:
      `value` unchanged, so it can be used inline: `h = km.expose("h", f(x))`.

    Raises:
      TypeError: `name` is not a string, or `value` cannot be a tensor.
      ValueError: `name` is empty or reserved, or it was exposed twice in one
        step.
      RuntimeError: called outside a step function run by a km session.

    Example:

    ```python
    def step(batch):
        with tf.GradientTape() as tape:
            loss = model_loss(batch)
        grads = tape.gradient(loss, model.trainable_variables)
        km.expose("grad_norm", tf.linalg.global_norm(grads))
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}
    ```
    """
    if not isinstance(name, str):
        raise TypeError(_validation.invalid("name", name, "a string"))
    if not name or name == "global_step":
        raise ValueError(
            _validation.invalid(
                "name", name, "a non-empty string other than 'global_step'"
            )
        )
    stack = _collectors()
    if not stack:
        raise RuntimeError(
            f"km.expose({name!r}, ...) was called outside a step function. "
            "Call it inside the function passed to `MonitoredSession.run`."
        )
    collector = stack[-1]
    if name in collector:
        raise ValueError(
            f"km.expose: the name {name!r} was exposed twice in one step. "
            "Use a different name for each tensor."
        )
    if isinstance(value, tf.Tensor):
        collector[name] = value
        return value
    try:
        collector[name] = tf.convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            _validation.invalid(
                "value",
                value,
                f"a tensor, or a value tf.convert_to_tensor accepts, for "
                f"km.expose({name!r}, ...) ({error})",
            )
        ) from None
    return value


@contextlib.contextmanager
def collecting() -> Iterator[dict[str, Any]]:
    """Collects the tensors exposed while tracing one replica's step."""
    collector: dict[str, Any] = {}
    stack = _collectors()
    stack.append(collector)
    try:
        yield collector
    finally:
        stack.pop()
