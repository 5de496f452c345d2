"""Scaffold: what a session checkpoints, which variable is the global step, and
how a fresh run is initialised."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored.global_step import check_global_step

_CHECKPOINT_EXPECTED = (
    "a tf.train.Checkpoint, a trackable object (a Keras model, an optimizer, "
    "a tf.Module, a tf.Variable) or a dict of them"
)


class Scaffold:
    """The pieces a monitored session builds on.

    TF1's Scaffold gathered graph ops (init_op, ready_op, saver, ...). In TF2,
    variables initialise themselves, so what is left is *what to checkpoint*,
    *which variable is the global step*, and *what to run when no checkpoint
    exists*.

    Args:
      checkpoint: what the session saves and restores: a `tf.train.Checkpoint`
        (its children are saved at the top level, so `tf.train.Checkpoint(
        model=m).restore(path)` reads the session's files), a dict
        `str -> trackable`, or one trackable (saved under the key `model`).
        The global step is always saved with it (key `global_step`).
      global_step: a scalar integer `tf.Variable` that the step function
        advances itself (e.g. `optimizer.iterations`). Default: the session
        uses `km.get_or_create_global_step()` and advances it by one per step.
      init_fn: run once when no checkpoint was restored, as `init_fn(scaffold,
        session)` (TF1's signature) or `init_fn()`.
      allow_partial_restore: accept, with a warning naming them, variables
        that a restored checkpoint leaves without a value (checked after the
        first step, once lazily built variables exist) and trainable
        variables the step updates that `checkpoint` does not reach. By
        default both raise `ValueError`: restores are never silently partial.

    Raises:
      TypeError: an argument of the wrong type.

    Example:

    ```python
    model = keras.Sequential([keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.1)
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer))
    ```
    """

    def __init__(
        self,
        checkpoint: Any = None,
        global_step: tf.Variable | None = None,
        init_fn: Callable[..., Any] | None = None,
        *,
        allow_partial_restore: bool = False,
    ):
        self._checkpoint_items = _checkpoint_items(checkpoint)
        self._checkpoint = checkpoint
        if global_step is not None:
            check_global_step("global_step", global_step)
        self._global_step = global_step
        self._init_fn = _validation.check_callable("init_fn", init_fn)
        self._init_fn_takes_args = _init_fn_takes_args(init_fn)
        self._allow_partial_restore = _validation.check_bool(
            "allow_partial_restore", allow_partial_restore
        )

    @property
    def allow_partial_restore(self) -> bool:
        """Whether partial restores warn instead of raising."""
        return self._allow_partial_restore

    @property
    def checkpoint(self) -> Any:
        """What was given as `checkpoint`."""
        return self._checkpoint

    @property
    def global_step(self) -> tf.Variable | None:
        """The global step given to the constructor, if any."""
        return self._global_step

    @property
    def init_fn(self) -> Callable[..., Any] | None:
        """The initialisation function, if any."""
        return self._init_fn

    def checkpoint_items(self) -> dict[str, Any]:
        """The named trackables saved at the top level of each checkpoint."""
        return dict(self._checkpoint_items)

    def run_init_fn(self, session: Any) -> None:
        """Runs `init_fn` with TF1's arguments if it takes them."""
        if self._init_fn is None:
            return
        if self._init_fn_takes_args:
            self._init_fn(self, session)
        else:
            self._init_fn()

    def finalize(self) -> "Scaffold":
        """Kept for TF1 code that calls it; a TF2 scaffold has nothing to freeze."""
        return self


def as_scaffold(value: Any, name: str = "scaffold") -> Scaffold:
    """Returns a km `Scaffold` for `value` (None, a km or a TF1 Scaffold).

    A TF1 `tf.compat.v1.train.Scaffold` keeps its `init_fn` and, when its
    `saver` is a `tf.train.Checkpoint`, that checkpoint. Graph pieces
    (init_op, ready_op, summary_op, ...) have no TF2 meaning and are dropped
    with a warning.

    Raises:
      TypeError: `value` is not a scaffold, or a TF1 saver that is not a
        `tf.train.Checkpoint`.
    """
    if value is None:
        return Scaffold()
    if isinstance(value, Scaffold):
        return value
    if _compat.is_instance_of_tf1(value, "Scaffold"):
        return _from_tf1_scaffold(value, name)
    raise TypeError(_validation.invalid(name, value, "a km.Scaffold or None"))


def _from_tf1_scaffold(value: Any, name: str) -> Scaffold:
    saver = _compat.private_attr(value, "_saver")
    if saver is not None and not _compat.is_checkpoint(saver):
        raise TypeError(
            _validation.invalid(
                name,
                value,
                f"a TF1 Scaffold whose saver is a tf.train.Checkpoint, not "
                f"{saver!r}: a name-based tf.compat.v1.train.Saver does not "
                "work eagerly; pass km.Scaffold(checkpoint=tf.train."
                "Checkpoint(model=..., optimizer=...)) instead",
            )
        )
    dropped = [
        piece
        for piece in (
            "init_op",
            "ready_op",
            "ready_for_local_init_op",
            "local_init_op",
            "summary_op",
            "init_feed_dict",
            "local_init_feed_dict",
        )
        if _compat.private_attr(value, "_" + piece) is not None
    ]
    if dropped:
        logging.warning(
            "TF1 Scaffold pieces %s have no meaning in TF2 and are ignored.",
            dropped,
        )
    return Scaffold(
        checkpoint=saver, init_fn=_compat.private_attr(value, "_user_init_fn")
    )


def _checkpoint_items(checkpoint: Any) -> dict[str, Any]:
    if checkpoint is None:
        return {}
    if _compat.is_checkpoint(checkpoint):
        return _compat.checkpoint_children(checkpoint)
    if isinstance(checkpoint, Mapping):
        items = {}
        for key, item in checkpoint.items():
            if not isinstance(key, str) or not key:
                raise TypeError(
                    _validation.invalid(
                        "checkpoint",
                        checkpoint,
                        _CHECKPOINT_EXPECTED + " with non-empty string keys",
                    )
                )
            if not _compat.is_trackable(item):
                raise TypeError(
                    _validation.invalid(
                        "checkpoint",
                        checkpoint,
                        _CHECKPOINT_EXPECTED
                        + f"; checkpoint[{key!r}] is not trackable",
                    )
                )
            items[key] = item
        return items
    if _compat.is_trackable(checkpoint):
        return {"model": checkpoint}
    raise TypeError(
        _validation.invalid("checkpoint", checkpoint, _CHECKPOINT_EXPECTED)
    )


def _init_fn_takes_args(init_fn: Callable[..., Any] | None) -> bool:
    if init_fn is None:
        return False
    try:
        params = inspect.signature(init_fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return True
    required = [p for p in positional if p.default is p.empty]
    if len(required) == 0:
        return False
    if len(positional) >= 2:
        return True
    raise TypeError(
        _validation.invalid(
            "init_fn",
            init_fn,
            "a callable taking (scaffold, session) or no arguments",
        )
    )
