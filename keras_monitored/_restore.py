"""Restores that are never silently partial.

A restore returns a `RestoreRecord`: what the checkpoint gave values to. Some
variables only exist after the first step (Keras optimizer slots, the weights
of a model built at its first call; TF assigns their restored values when
they are created), so the session verifies the record once, right after its
first step and before any hook's `after_run` can save: a scaffold variable
still without a value raises `ValueError` naming it (a warning with
`allow_partial_restore`), and checkpoint values that nothing took are logged.
TF1 name-based checkpoints are restored by `_name_based_restore`.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Iterable

import tensorflow as tf
from absl import logging

from keras_monitored import _compat
from keras_monitored._input_checkpoint import INPUT_STATE_KEY

# How many names an error or warning lists before "... and N more".
MAX_LISTED = 20

SESSION_PARTIAL_FIX = (
    "Give the scaffold the objects the checkpoint was written from, under "
    "the same keys (e.g. km.Scaffold(checkpoint=tf.train.Checkpoint("
    "model=..., optimizer=...)))."
)
SESSION_ALLOW_PARTIAL = (
    "To train them on from their initial values instead, pass "
    "km.Scaffold(..., allow_partial_restore=True)."
)
SESSION_USE_CONVERTED = (
    "then resume from the converted checkpoint: checkpoint_dir={out!r} with "
    "scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(model=..., "
    "optimizer=...))"
)

# Checkpoint paths whose unused values were already reported (a recovery
# restores the same checkpoint again).
_reported_unused: set[str] = set()


@dataclasses.dataclass(frozen=True)
class RestoreOptions:
    """How strict a restore is and what its messages suggest.

    Attributes:
      allow_partial: warn instead of raising when variables stay unrestored.
      partial_fix: the fix an unrestored-variables error suggests.
      allow_partial_hint: how to accept a partial restore knowingly.
      use_converted: how to use a converted TF1 checkpoint (`{out}` is its
        directory).
    """

    allow_partial: bool = False
    partial_fix: str = SESSION_PARTIAL_FIX
    allow_partial_hint: str = SESSION_ALLOW_PARTIAL
    use_converted: str = SESSION_USE_CONVERTED


def listing(names: Iterable[str], limit: int = MAX_LISTED) -> str:
    """`a, b, c` -- or the first `limit` names and `... and N more`."""
    names = list(names)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... and {len(names) - limit} more"
    return shown


def shape_and_dtype(variable: Any) -> str:
    """`[3, 1] float32` (a variable's shape may be unknown)."""
    shape = tf.TensorShape(variable.shape)
    dims = shape.as_list() if shape.rank is not None else "<unknown shape>"
    return f"{dims} {_compat.variable_dtype(variable).name}"


def display_name(obj: Any, path: str) -> str:
    """A readable name: a Keras variable's path (`sequential/dense/kernel`),
    else the object's path in the checkpoint (`model/w`, `global_step`)."""
    keras_path = getattr(obj, "path", None)
    if (
        isinstance(keras_path, str)
        and _compat.is_variable(obj)
        and not isinstance(obj, tf.Variable)
    ):
        return keras_path
    return path or type(obj).__name__


def saved_objects(
    root: tf.train.Checkpoint, excluded: Iterable[Any]
) -> list[tuple[Any, str]]:
    """The objects with values of their own that a checkpoint of `root`
    holds, with readable names; km's bookkeeping (`excluded`, the
    `save_counter` of any `tf.train.Checkpoint`, the input positions of
    `checkpoint_input`, which may rightly be absent) left out."""
    trackables = _compat.trackables_with_paths(root)
    skip = {id(obj) for obj in excluded if obj is not None}
    for obj, _ in trackables:
        if _compat.is_checkpoint(obj):
            counter = _compat.checkpoint_save_counter(obj)
            if counter is not None:
                skip.add(id(counter))
    return [
        (obj, display_name(obj, path))
        for obj, path in trackables
        if id(obj) not in skip
        and path.split("/", 1)[0] != INPUT_STATE_KEY
        and _compat.has_saved_values(obj)
    ]


def report_unused_once(path: str, unused: list[str], what: str) -> None:
    """Logs, once per checkpoint, the values in it that nothing took."""
    if not unused or path in _reported_unused:
        return
    _reported_unused.add(path)
    logging.warning(
        "%d %s in checkpoint %s match nothing in the session and were not "
        "restored: %s",
        len(unused),
        what,
        path,
        listing(sorted(unused)),
    )


class RestoreRecord(abc.ABC):
    """What one restore gave values to; verified after the first step.

    Args:
      path: the checkpoint restored.
      root: the session's checkpoint root.
      excluded: km's bookkeeping objects, never reported.
      options: strictness and the fixes messages suggest.
      global_step: the session's global step (its value is read now).
    """

    def __init__(
        self,
        path: str,
        root: tf.train.Checkpoint,
        excluded: Iterable[Any],
        options: RestoreOptions,
        global_step: Any,
    ):
        self.path = path
        self.hook_state: dict[str, Any] = {}
        self._root = root
        self._excluded = list(excluded)
        self._options = options
        self._global_step = global_step
        self._step = _compat.read_scalar(global_step)

    @abc.abstractmethod
    def _restored_ids(self) -> set[int]:
        """The ids of the objects the restore gave values to."""

    def _unused_values(self) -> list[str]:
        """Checkpoint values nothing has taken (after the first step)."""
        return []

    def _missing_advice(self) -> str:
        return (
            f"{self._options.partial_fix} {self._options.allow_partial_hint}"
        ).strip()

    def _written_before_first_step(self) -> bool:
        """True if the checkpoint holds global step 0: written when a fresh
        run started (MTS saves then), before the first step created what it
        creates (optimizer slots, the weights of an unbuilt model)."""
        return self._step == 0 and id(self._global_step) in self._restored_ids()

    def unrestored(self) -> list[str]:
        """Names of the scaffold objects the restore left without a value."""
        restored = self._restored_ids()
        return [
            name
            for obj, name in saved_objects(self._root, self._excluded)
            if id(obj) not in restored
        ]

    def check_existing(self) -> None:
        """Raises now if variables that already exist got no value (the
        strict case), so nothing is saved or trained from such a state.

        Raises:
          ValueError: see `verify`.
        """
        if (
            not self._options.allow_partial
            and not self._written_before_first_step()
        ):
            missing = self.unrestored()
            if missing:
                raise ValueError(self._missing_message(missing))

    def verify(self) -> None:
        """Checks the restore once every variable exists (after the first
        step): unrestored scaffold objects raise (or warn), unused values
        are logged once.

        Raises:
          ValueError: a scaffold object has no value from the checkpoint,
            and partial restores are not allowed.
        """
        missing = self.unrestored()
        if missing and self._written_before_first_step():
            # A checkpoint written before the first step of its run (MTS
            # writes one when a fresh run starts) cannot hold what the first
            # step creates; those variables had their initial values then too.
            logging.warning(
                "Checkpoint %s was written at global step 0, before the "
                "variables the first step creates existed; they start from "
                "their initial values: %s",
                self.path,
                listing(missing),
            )
        elif missing and self._options.allow_partial:
            logging.warning(
                "allow_partial_restore=True: checkpoint %s left %d variables "
                "without a value; they train on from their initial values: %s",
                self.path,
                len(missing),
                listing(missing),
            )
        elif missing:
            raise ValueError(self._missing_message(missing))
        report_unused_once(
            self.path, self._unused_values(), "checkpoint values"
        )

    def _missing_message(self, missing: list[str]) -> str:
        unused = self._unused_values()
        unused_note = (
            f" Values in the checkpoint that matched nothing: "
            f"{listing(sorted(unused))}."
            if unused
            else ""
        )
        optimizer_note = (
            " (A checkpoint converted by `km-migrate checkpoint` without "
            "--optimizer holds no optimizer state: convert it again with "
            "--optimizer FILE.py:OPTIMIZER_FUNCTION.)"
            if any(_is_optimizer_name(name) for name in missing)
            else ""
        )
        return (
            f"Restoring checkpoint {self.path} left {len(missing)} of the "
            f"session's variables without a value: {listing(missing)}. "
            "Training on would mix restored and freshly initialised values "
            f"(and the next save would keep the mix).{unused_note} "
            f"{self._missing_advice()}{optimizer_note}"
        )


def _is_optimizer_name(name: str) -> bool:
    """True for the name of an optimizer's variable (`optimizer/...`, or a
    Keras optimizer's `adam/iteration`, `sgd/learning_rate`, slots)."""
    head = name.split("/", 1)[0]
    return head == "optimizer" or head in _KERAS_OPTIMIZER_NAMES


_KERAS_OPTIMIZER_NAMES = frozenset(
    {
        "adam",
        "adamw",
        "adamax",
        "adagrad",
        "adadelta",
        "adafactor",
        "ftrl",
        "lion",
        "nadam",
        "rmsprop",
        "sgd",
        "lamb",
        "loss_scale_optimizer",
    }
)


class _ObjectBasedRecord(RestoreRecord):
    """A TF2 object-based restore, read through TF's load status."""

    def __init__(self, status: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self._status = status

    def _restored_ids(self) -> set[int]:
        return {id(obj) for obj in _compat.restored_objects(self._status)}

    def _unused_values(self) -> list[str]:
        return _compat.unused_checkpoint_values(self._status)


def restore_object_based(
    root: tf.train.Checkpoint,
    path: str,
    *,
    global_step: Any,
    hook_state: Any,
    options: RestoreOptions,
) -> RestoreRecord:
    """Restores a TF2 object-based checkpoint into `root`.

    Args:
      root: the session's checkpoint root.
      path: the checkpoint's path prefix.
      global_step: the session's global step.
      hook_state: the root's `HookState` (bookkeeping, filled by the restore).
      options: strictness and the fixes messages suggest.

    Returns:
      The record to verify after the first step; its `hook_state` holds the
      hooks' saved states.

    Raises:
      ValueError: variables that exist already got no value (strict).
    """
    hook_state.restored = None
    status = _compat.restore_objects(root, path)
    record = _ObjectBasedRecord(
        status,
        path=path,
        root=root,
        excluded=bookkeeping(root, hook_state),
        options=options,
        global_step=global_step,
    )
    record.hook_state = hook_state.restored or {}
    record.check_existing()
    return record


def bookkeeping(root: tf.train.Checkpoint, hook_state: Any) -> list[Any]:
    """km's own objects in the root: never reported as unrestored."""
    return [hook_state, _compat.checkpoint_save_counter(root)]
