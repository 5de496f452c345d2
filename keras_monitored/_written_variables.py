"""Trainable variables a step updates that the session's checkpoint does not
reach: found in the traced step and refused before it first runs.

TF1's default `Saver` saved every global variable; a TF2 checkpoint saves
only what the scaffold names. A model or optimizer left out of the scaffold
would be trained, never saved, and silently re-initialised on resume.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable

import tensorflow as tf
from absl import logging

from keras_monitored import _compat
from keras_monitored._restore import listing, shape_and_dtype

FIX = (
    "Add what owns them to the scaffold: km.Scaffold(checkpoint="
    "tf.train.Checkpoint(model=..., optimizer=...)) (or a dict of them)."
)


def unsaved_variables(
    concrete: Any, roots: Iterable[tf.train.Checkpoint], global_step: Any
) -> list[str]:
    """Names of the trainable variables `concrete` writes that no checkpoint
    of `roots` holds.

    Args:
      concrete: the traced step (a ConcreteFunction).
      roots: the checkpoint roots the session saves.
      global_step: the session's global step (always saved).

    Returns:
      The variables' TF names (a Keras 3 variable's is its path) with their
      shapes and dtypes, sorted.
    """
    reached = {id(part) for part in _compat.variable_components(global_step)}
    for root in roots:
        for obj, _ in _compat.trackables_with_paths(root):
            if _compat.is_variable(obj):
                reached.update(
                    id(part) for part in _compat.variable_components(obj)
                )
    return sorted(
        f"{_compat.variable_name(variable)} {shape_and_dtype(variable)}"
        for variable in _compat.written_variables(concrete)
        if variable.trainable
        and not any(
            id(part) in reached
            for part in _compat.variable_components(variable)
        )
    )


class UnsavedVariablesCheck:
    """Refuses, once per compiled step, a step that updates trainable
    variables the session's checkpoints do not reach.

    A session checkpoints when its creator has a `checkpoint_dir`, or when a
    `CheckpointSaverHook` saves it (`add_root`, as the hook's writer is
    made, before any step).

    Args:
      root: a checkpoint root the session saves.
      global_step: the session's global step.
      checkpoint_dir: where it is saved (for the message).
      allow: warn instead of raising (`Scaffold(allow_partial_restore=True)`).
    """

    def __init__(
        self,
        root: tf.train.Checkpoint,
        *,
        global_step: Any,
        checkpoint_dir: str,
        allow: bool = False,
    ):
        self._roots = [root]
        self._global_step = global_step
        self._checkpoint_dir = checkpoint_dir
        self._allow = allow
        self._checked: weakref.WeakSet = weakref.WeakSet()

    def add_root(self, root: tf.train.Checkpoint) -> None:
        """Counts what `root` saves as reached too (a hook's own saver)."""
        if all(root is not known for known in self._roots):
            self._roots.append(root)

    def checked(self, key: Any) -> bool:
        """True once `key` (a compiled step) was checked."""
        return key in self._checked

    def check_once(self, key: Any, function: Any, args: tuple) -> None:
        """Traces `function(*args)` (the trace the call then reuses) and
        checks what it writes, the first time `key` is seen.

        Args:
          key: the compiled step this call belongs to.
          function: the `tf.function` about to be called.
          args: its arguments.

        Raises:
          ValueError: the step updates trainable variables the checkpoint
            does not reach.
        """
        if key in self._checked:
            return
        self._checked.add(key)
        unsaved = unsaved_variables(
            function.get_concrete_function(*args),
            self._roots,
            self._global_step,
        )
        if not unsaved:
            return
        message = (
            "The step function updates trainable variables that the "
            f"session's checkpoint does not include: {listing(unsaved)}. "
            f"checkpoint_dir={self._checkpoint_dir!r} would neither save nor "
            "restore them, so a resumed run would train them from their "
            f"initial values again. {FIX}"
        )
        if self._allow:
            logging.warning("allow_partial_restore=True: %s", message)
        else:
            raise ValueError(
                message + " (km.Scaffold(..., allow_partial_restore=True) "
                "accepts this with a warning.)"
            )
