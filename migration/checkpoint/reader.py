"""Opens a checkpoint given as a prefix or a directory, and tells its format."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import tensorflow as tf

from keras_monitored._checkpoint_directory import latest_checkpoint
from migration.checkpoint._errors import bad_argument
from migration.checkpoint.matching import CheckpointEntry

# The key every object-based (tf.train.Checkpoint) checkpoint has.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_FILE_SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")


@dataclasses.dataclass
class Checkpoint:
    """A checkpoint opened for reading.

    Attributes:
      prefix: the checkpoint prefix (`dir/model.ckpt-500`).
      object_based: True for a TF2 `tf.train.Checkpoint`, False for a TF1
        name-based `Saver` checkpoint.
      entries: every tensor but the object graph, sorted by name.
    """

    prefix: str
    object_based: bool
    entries: list[CheckpointEntry]
    _reader: Any

    def value(self, name: str) -> np.ndarray:
        """The stored value of `name`, as numpy."""
        return np.asarray(self._reader.get_tensor(name))

    @property
    def format_name(self) -> str:
        """A line saying what wrote it."""
        if self.object_based:
            return "TF2 object-based (tf.train.Checkpoint)"
        return "TF1 name-based (tf.compat.v1.train.Saver)"


def _resolve(flag: str, path: str) -> str:
    if not path:
        raise bad_argument(
            flag, path, "It is empty.", "a checkpoint prefix or directory"
        )
    if tf.io.gfile.isdir(path):
        try:
            # km's lookup: also finds the checkpoints of a moved directory.
            prefix = latest_checkpoint(path)
        except ValueError as error:
            raise bad_argument(flag, path, str(error)) from None
        if prefix is None:
            raise bad_argument(
                flag,
                path,
                "The directory holds no checkpoint.",
                "a checkpoint prefix such as dir/model.ckpt-500, or a "
                "directory a Saver or CheckpointManager wrote",
            )
        return prefix
    # `model.ckpt-500.index` (what `ls` shows) means the prefix.
    return _FILE_SUFFIX.sub("", path)


def open_checkpoint(path: str, flag: str) -> Checkpoint:
    """Opens the checkpoint at `path` (a prefix or a directory: its latest).

    Args:
      path: the prefix, one of its files, or a directory.
      flag: the argument, for error messages (`TF1_CKPT`).

    Raises:
      UsageError: nothing readable there.
    """
    prefix = _resolve(flag, path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as error:
        exists = tf.io.gfile.exists(path)
        raise bad_argument(
            flag,
            path,
            (
                "It is not a TensorFlow checkpoint"
                if exists
                else "Nothing is there"
            )
            + f" ({type(error).__name__}: {str(error).splitlines()[0]}).",
            "a checkpoint prefix (the files PREFIX.index and "
            "PREFIX.data-*) or a directory with a `checkpoint` file",
        ) from error
    entries = [
        CheckpointEntry(
            name=name,
            shape=tuple(int(d) for d in shapes[name]),
            dtype=dtypes[name].name,
        )
        for name in sorted(shapes)
        if name != OBJECT_GRAPH_KEY
    ]
    return Checkpoint(
        prefix=prefix,
        object_based=OBJECT_GRAPH_KEY in shapes,
        entries=entries,
        _reader=reader,
    )
