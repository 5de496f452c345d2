"""The resumable state of Keras callbacks, which Keras does not save.

Keras callbacks keep their progress (EarlyStopping's wait and best,
ModelCheckpoint's counters, ...) in private attributes and save none of it
(keras-team/keras#17012). CallbackHook saves it with every km checkpoint;
this module knows which attributes make it up, and how to put them back
around `on_train_begin` (which resets many of them).
"""

from __future__ import annotations

from typing import Any

import keras

# Keras callbacks' own (private) attributes that make up their resumable
# state. Keras does not save them (keras-team/keras#17012).
_KERAS_CALLBACK_STATE = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ModelCheckpoint": (
        "best",
        "_batches_seen_since_last_saving",
        "_last_batch_seen",
        "_current_epoch",
    ),
    "ReduceLROnPlateau": ("best", "wait", "cooldown_counter"),
    "BackupAndRestore": (
        "_batches_seen_since_last_saving",
        "_last_batch_seen",
        "_current_epoch",
    ),
}


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def keras_callback_state(callback: Any) -> Any:
    """The JSON-serialisable resumable state of a Keras callback, or None."""
    get_state = getattr(callback, "get_state", None)
    if callable(get_state):
        return {"custom": get_state()}
    for class_name, attributes in _KERAS_CALLBACK_STATE.items():
        if isinstance(callback, getattr(keras.callbacks, class_name)):
            return {
                "attributes": {
                    name: _plain(getattr(callback, name, None))
                    for name in attributes
                }
            }
    if isinstance(callback, keras.callbacks.CSVLogger):
        return {"csv_started": True}
    return None


def restore_keras_callback_state(
    callback: Any, state: Any, before_train_begin: bool
) -> None:
    """Gives a Keras callback back its state (around its `on_train_begin`,
    which resets much of it)."""
    if not state:
        return
    if before_train_begin:
        if state.get("csv_started"):
            callback.append = True  # keep the rows the interrupted run wrote
        return
    if "custom" in state and callable(getattr(callback, "set_state", None)):
        callback.set_state(state["custom"])
    for name, value in (state.get("attributes") or {}).items():
        setattr(callback, name, value)


def start_keras_callback_at_step(callback: Any, global_step: int) -> None:
    """Aligns a callback's own step counter with the global step, so its
    summaries continue across restarts (Keras's TensorBoard restarts at 0)."""
    if isinstance(callback, keras.callbacks.TensorBoard):
        callback._global_train_batch = int(global_step)  # pylint: disable=protected-access
