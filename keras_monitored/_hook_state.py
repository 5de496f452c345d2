"""Hook and callback state saved with checkpoints, resumed consistently
although saves happen in the middle of a phase.

A `CheckpointSaverHook` writes its checkpoint in its own turn, as TF1 did:
hooks after it in the list (and its listeners) see the new files at once.
Those hooks have not yet processed the step, so the state written into the
checkpoint (`HookState`, a `PythonState`) is what they had before it. Once
every hook has finished the phase, the hook driver *completes* it: the
state after the phase is written next to each checkpoint saved during it,
as `<checkpoint>.km_hook_state.json` (a temp file and a rename). A restore
prefers that completed state; a crash between the two writes leaves the
state of the save's moment, inside the checkpoint.

With background saves (`async_checkpoint=True`) the phase usually ends
before the checkpoint's files are complete: the state text is still taken
at the end of the phase, and written when the writer reports the files
complete (from its thread), never before.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from keras_monitored import _compat

COMPLETED_SUFFIX = ".km_hook_state.json"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(
        f"{value!r} of type {type(value).__name__} is not JSON serialisable"
    )


def to_json(state: Mapping[str, Any]) -> str:
    """The hooks' states as JSON (numpy values as numbers and lists)."""
    return json.dumps(dict(state), default=_json_default, sort_keys=True)


class HookState(_compat.python_state_base()):
    """The hooks' `get_state()` values, stored in the checkpoint as a string.

    At save time it asks its provider for the current states; at restore time
    it keeps what was read until the session hands it to the hooks.
    """

    def __init__(self):
        super().__init__()
        self.provider: Callable[[], Mapping[str, Any]] = dict
        self.restored: dict[str, Any] | None = None

    def serialize(self) -> str:
        return to_json(self.provider())

    def deserialize(self, string_value: Any) -> None:
        if isinstance(string_value, bytes):
            string_value = string_value.decode("utf-8")
        self.restored = json.loads(string_value) if string_value else {}


def completed_path(checkpoint: str) -> str:
    """Where the completed hook state of `checkpoint` (a prefix) lives."""
    return checkpoint + COMPLETED_SUFFIX


def read_completed(checkpoint: str) -> dict[str, Any] | None:
    """The completed hook state of `checkpoint`, or None if it has none (or
    one that cannot be read, which is logged)."""
    path = completed_path(checkpoint)
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path, "r") as handle:
            return json.loads(handle.read())
    except (OSError, ValueError, tf.errors.OpError) as error:
        logging.warning(
            "Could not read %s (%s); using the hook state saved inside the "
            "checkpoint.",
            path,
            error,
        )
        return None


class PendingHookState:
    """Checkpoints saved during the current phase, waiting for the hooks'
    state after it.

    Thread-safe: a background writer reports its files complete from its
    own thread (`written`, `failed`, `removed`).

    Args:
      hook_state: gives the current states (its provider).
    """

    def __init__(self, hook_state: HookState):
        self._hook_state = hook_state
        self._paths: list[str] = []
        self._lock = threading.Lock()
        # Checkpoints whose files are still being written, and the state
        # text waiting for them (set once their phase is over).
        self._writing: set[str] = set()
        self._waiting: dict[str, str] = {}

    def saved(self, checkpoint: str, *, written: bool = True) -> None:
        """A checkpoint was saved in the middle of a phase.

        Args:
          checkpoint: its path prefix.
          written: False while its files are still being written (a
            background save): its state waits for `written(checkpoint)`.
        """
        with self._lock:
            self._paths.append(checkpoint)
            if not written:
                self._writing.add(checkpoint)

    def written(self, checkpoint: str) -> None:
        """The files of a background save are complete: its completed state
        is written now if its phase is over (else at the phase's end)."""
        with self._lock:
            self._writing.discard(checkpoint)
            text = self._waiting.pop(checkpoint, None)
            if text is not None:
                _write_completed(checkpoint, text)

    def failed(self, checkpoint: str) -> None:
        """A background save failed: it gets no completed state."""
        with self._lock:
            self._writing.discard(checkpoint)
            self._waiting.pop(checkpoint, None)
            if checkpoint in self._paths:
                self._paths.remove(checkpoint)

    def removed(self, checkpoints: Iterable[str]) -> None:
        """Checkpoints retention deleted: their completed state goes too."""
        with self._lock:
            for checkpoint in checkpoints:
                path = completed_path(checkpoint)
                if tf.io.gfile.exists(path):
                    tf.io.gfile.remove(path)

    def complete(self) -> None:
        """Writes the state every hook has now (the phase is over) next to
        each checkpoint saved during it (when its files are complete)."""
        with self._lock:
            paths, self._paths = self._paths, []
        if not paths:
            return
        text = to_json(self._hook_state.provider())
        with self._lock:
            for checkpoint in paths:
                if checkpoint in self._writing:
                    self._waiting[checkpoint] = text
                elif tf.io.gfile.exists(checkpoint + ".index"):
                    _write_completed(checkpoint, text)
                # else: deleted by retention within the same phase

    def discard(self) -> None:
        """The phase failed: the checkpoints keep the state of their save."""
        with self._lock:
            self._paths = []


def _write_completed(checkpoint: str, text: str) -> None:
    target = completed_path(checkpoint)
    temp = target + ".tmp"
    with tf.io.gfile.GFile(temp, "w") as handle:
        handle.write(text)
    tf.io.gfile.rename(temp, target, overwrite=True)


def completed_or(checkpoint: str, saved: dict[str, Any]) -> dict[str, Any]:
    """The hook state to resume `checkpoint` with: its completed state if
    there is one, else the state saved inside it."""
    completed = read_completed(checkpoint)
    return saved if completed is None else completed
