"""TensorFlow/Keras version handling and every access to private TF API."""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=None)
def tf_version() -> tuple[int, int]:
    """(major, minor) of the installed TensorFlow."""
    major, minor = tf.__version__.split(".")[:2]
    return int(major), int(minor)


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
