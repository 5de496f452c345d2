"""TensorFlow/Keras version handling and every access to private TF API."""

from __future__ import annotations

import types
from typing import Any

import tensorflow as tf


def tf1_train() -> types.ModuleType | None:
    """Returns `tf.compat.v1.train`, or None where this TF has no compat.v1."""
    compat = getattr(tf, "compat", None)
    v1 = getattr(compat, "v1", None) if compat is not None else None
    return getattr(v1, "train", None) if v1 is not None else None


def tf1_class(name: str) -> type | None:
    """Returns the TF1 class `tf.compat.v1.train.<name>`, if this TF has it."""
    train = tf1_train()
    return getattr(train, name, None) if train is not None else None


def is_instance_of_tf1(value: Any, name: str) -> bool:
    """True if `value` is an instance of `tf.compat.v1.train.<name>`."""
    cls = tf1_class(name)
    return cls is not None and isinstance(value, cls)


def is_exact_tf1(value: Any, name: str) -> bool:
    """True if `type(value)` is exactly `tf.compat.v1.train.<name>`.

    Subclasses are user code with their own behaviour: they are run as they
    are, never translated.
    """
    cls = tf1_class(name)
    return cls is not None and type(value) is cls


def private_attr(obj: Any, name: str, default: Any = None) -> Any:
    """Reads a private attribute of a TF1 object (its settings)."""
    return getattr(obj, name, default)


def set_private_attr(obj: Any, name: str, value: Any) -> None:
    """Writes a result back into a private attribute of a TF1 object."""
    setattr(obj, name, value)


def tf1_timer_settings(timer: Any) -> tuple[float | None, int | None]:
    """(every_secs, every_steps) of a TF1 `SecondOrStepTimer` ((None, None)
    for its `NeverTriggerTimer`)."""
    return (
        private_attr(timer, "_every_secs"),
        private_attr(timer, "_every_steps"),
    )


def checkpoint_children(checkpoint: tf.train.Checkpoint) -> dict[str, Any]:
    """The named children of a `tf.train.Checkpoint` (its constructor kwargs).

    `save_counter` is left out: it belongs to that object's own `save()`.
    """
    children = dict(checkpoint._trackable_children())  # pylint: disable=protected-access
    children.pop("save_counter", None)
    return children


def is_symbolic_tensor(value: Any) -> bool:
    """True for a graph (TF1-style) tensor that has no value."""
    return isinstance(value, tf.Tensor) and not hasattr(value, "numpy")


def is_variable(value: Any) -> bool:
    """True for a `tf.Variable` or a Keras 3 variable (e.g. `optimizer.iterations`)."""
    if isinstance(value, tf.Variable):
        return True
    if "keras" not in type(value).__module__:
        return False
    import keras  # pylint: disable=import-outside-toplevel

    return isinstance(value, keras.Variable)


def as_tf_variable(value: Any) -> Any:
    """The `tf.Variable` behind a Keras 3 variable (itself for a tf.Variable)."""
    if isinstance(value, tf.Variable):
        return value
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, tf.Variable) else value


def read_scalar(variable: Any) -> int:
    """The value of an integer scalar variable, with one op (no identity copy;
    this read happens once per step)."""
    return int(as_tf_variable(variable).value().numpy())


def variable_dtype(value: Any) -> tf.DType:
    """The TF dtype of a TF or Keras variable."""
    return tf.as_dtype(value.dtype)


def is_trackable(value: Any) -> bool:
    """True for anything a `tf.train.Checkpoint` can track."""
    return isinstance(value, tf.__internal__.tracking.Trackable)


def is_eager_tensor(value: Any) -> bool:
    """True for a concrete tensor with a value."""
    return isinstance(value, tf.Tensor) and hasattr(value, "numpy")


def python_state_base() -> type:
    """The base class for Python state saved inside TF checkpoints."""
    return tf.train.experimental.PythonState


def global_step_collection() -> list:
    """The TF1 GLOBAL_STEP collection of the default graph (a live list)."""
    v1 = tf.compat.v1
    return v1.get_collection_ref(v1.GraphKeys.GLOBAL_STEP)


def run_options() -> Any:
    """A fresh TF1 `RunOptions` proto."""
    return tf.compat.v1.RunOptions()


def run_metadata() -> Any:
    """A fresh TF1 `RunMetadata` proto."""
    return tf.compat.v1.RunMetadata()


def write_event(writer: Any, serialized_event: bytes) -> None:
    """Writes a serialized `tf.Event` through a `tf.summary` writer, in order
    with its summaries (for events `tf.summary` has no API for)."""
    from tensorflow.python.ops import gen_summary_ops  # pylint: disable=import-outside-toplevel

    gen_summary_ops.import_event(writer._resource, serialized_event)  # pylint: disable=protected-access


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
}


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def keras_callback_state(callback: Any) -> Any:
    """The JSON-serialisable resumable state of a Keras callback, or None."""
    import keras  # pylint: disable=import-outside-toplevel

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
    import keras  # pylint: disable=import-outside-toplevel

    if isinstance(callback, keras.callbacks.TensorBoard):
        callback._global_train_batch = int(global_step)  # pylint: disable=protected-access


def call_concrete(concrete: Any, flat_inputs: list) -> Any:
    """Calls a traced ConcreteFunction with already-flattened tensor inputs.

    This skips `tf.function`'s per-call signature matching (about 200 us per
    call on CPU, often more than a small training step itself).
    """
    return concrete._call_flat(flat_inputs, concrete.captured_inputs)  # pylint: disable=protected-access
