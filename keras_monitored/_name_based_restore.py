"""TF1 name-based checkpoints (written by `tf.compat.v1.train.Saver`).

Such a checkpoint holds values by TF1 variable name (`dense/kernel`,
`global_step`). It is restored only when every variable of the session
matches a TF1 name with the same shape and dtype: the session's global step
is TF1's `global_step`, any other variable its TF name without `:0`. A Keras 3
variable's TF name is its path (`sequential/dense/kernel`), which never
matches TF1's scope names: such checkpoints are converted with
`km-migrate checkpoint` first, and the error says how.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import tensorflow as tf
from absl import logging

from keras_monitored import _compat
from keras_monitored._restore import (
    RestoreOptions,
    RestoreRecord,
    listing,
    report_unused_once,
    saved_objects,
    shape_and_dtype,
)

TF1_GLOBAL_STEP = "global_step"


def converted_dir(path: str) -> str:
    """Where to suggest writing the converted checkpoint: `<dir>_tf2`."""
    directory = os.path.dirname(os.path.abspath(path))
    return directory.rstrip(os.sep) + "_tf2"


def convert_command(path: str, optimizer: bool = False) -> str:
    """The `km-migrate checkpoint` command that converts `path`."""
    return (
        f"km-migrate checkpoint {path} --model FILE.py:FUNCTION"
        + (" --optimizer FILE.py:OPTIMIZER_FUNCTION" if optimizer else "")
        + f" --out {converted_dir(path)}"
    )


def tf1_name(variable: Any, global_step: Any) -> str:
    """The TF1 name a session variable is looked up by."""
    inner = _compat.as_tf_variable(variable)
    if variable is global_step or inner is _compat.as_tf_variable(global_step):
        return TF1_GLOBAL_STEP
    return _compat.variable_name(inner)


class _NameBasedRecord(RestoreRecord):
    """A TF1 name-based restore: the variables assigned by name."""

    def __init__(self, assigned: set[int], **kwargs: Any):
        super().__init__(**kwargs)
        self._assigned = assigned

    def _restored_ids(self) -> set[int]:
        return self._assigned

    def _missing_advice(self) -> str:
        use = self._options.use_converted.format(out=converted_dir(self.path))
        return (
            "They were created after the TF1 checkpoint was restored by "
            "name (optimizer slots, or the weights of a model built at its "
            "first call), and a TF1 checkpoint can only be matched to "
            "variables that exist when it is restored. Convert it, optimizer "
            f"slots included: {convert_command(self.path, optimizer=True)}, "
            f"{use}. {self._options.allow_partial_hint}"
        ).strip()


def restore(
    reader: Any,
    *,
    root: tf.train.Checkpoint,
    path: str,
    global_step: Any,
    excluded: list[Any],
    options: RestoreOptions,
) -> RestoreRecord:
    """Restores a TF1 name-based checkpoint into the session's variables.

    Args:
      reader: `tf.train.load_checkpoint(path)`.
      root: the session's checkpoint root.
      path: the checkpoint's path prefix.
      global_step: the session's global step (TF1's `global_step`).
      excluded: km's bookkeeping objects in the root.
      options: strictness and the fixes messages suggest.

    Returns:
      The record to verify after the first step.

    Raises:
      ValueError: a session variable has no TF1 value of the same name,
        shape and dtype (nothing is assigned then), unless partial restores
        are allowed.
    """
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    objects = saved_objects(root, excluded)
    names = {
        id(obj): tf1_name(obj, global_step)
        for obj, _ in objects
        if _compat.is_variable(obj)
    }
    uses = collections.Counter(names.values())
    matched, unmatched, mismatched = [], [], []
    keras_unmatched = False
    for obj, display in objects:
        name = names.get(id(obj))
        if name is None:
            unmatched.append(f"{display} (not a variable)")
            continue
        here = shape_and_dtype(obj)
        label = display if display == name else f"{display} as {name!r}"
        if uses[name] > 1:
            unmatched.append(f"{label} (a name {uses[name]} variables share)")
        elif name not in shapes:
            unmatched.append(f"{label} {here}")
            keras_unmatched |= not isinstance(obj, tf.Variable)
        elif not tf.TensorShape(obj.shape).is_compatible_with(shapes[name]) or (
            dtypes[name].base_dtype != _compat.variable_dtype(obj).base_dtype
        ):
            there = f"{list(shapes[name])} {dtypes[name].name}"
            mismatched.append(
                f"{label}: {here} here, {there} in the checkpoint"
            )
        else:
            matched.append((obj, name))
    if unmatched or mismatched:
        message = _mismatch_message(
            path,
            sorted(shapes),
            unmatched,
            mismatched,
            options,
            keras_unmatched,
            has_optimizer=any(
                _compat.is_keras_optimizer(obj)
                for obj, _ in _compat.trackables_with_paths(root)
            ),
        )
        if not options.allow_partial:
            raise ValueError(f"{message} {options.allow_partial_hint}".strip())
        logging.warning(
            "allow_partial_restore=True: restoring the %d matching variables "
            "only. %s",
            len(matched),
            message,
        )
    for obj, name in matched:
        obj.assign(reader.get_tensor(name))
    used = {name for _, name in matched}
    report_unused_once(path, [n for n in shapes if n not in used], "TF1 values")
    logging.info(
        "Restored TF1 name-based checkpoint %s: %d variables by name.",
        path,
        len(matched),
    )
    return _NameBasedRecord(
        {id(obj) for obj, _ in matched},
        path=path,
        root=root,
        excluded=excluded,
        options=options,
        global_step=global_step,
    )


def _mismatch_message(
    path: str,
    tf1_names: list[str],
    unmatched: list[str],
    mismatched: list[str],
    options: RestoreOptions,
    keras_unmatched: bool,
    has_optimizer: bool,
) -> str:
    parts = [
        (
            f"{path} is a TF1 name-based checkpoint (written by "
            "tf.compat.v1.train.Saver), and the session's variables do not "
            "all match its names: restoring it would leave variables at "
            "their initial values."
        )
    ]
    if unmatched:
        parts.append(
            f"Session variables with no TF1 value of that name: "
            f"{listing(unmatched)}."
        )
    if mismatched:
        parts.append(
            "Session variables whose TF1 value has another shape or dtype: "
            f"{listing(mismatched)}."
        )
    parts.append(f"TF1 names in the checkpoint: {listing(tf1_names)}.")
    if keras_unmatched:
        parts.append(
            "(A Keras 3 variable is named by its path, e.g. "
            "sequential/dense/kernel, never by TF1's scope names such as "
            "dense/kernel.)"
        )
    optimizer_note = (
        ", and OPTIMIZER_FUNCTION returns the optimizer as you train with it "
        "(its slots and step count are converted too)"
        if has_optimizer
        else ""
    )
    parts.append(
        "Convert the checkpoint for your model, where FUNCTION builds it "
        f"with no arguments{optimizer_note}: "
        f"{convert_command(path, optimizer=has_optimizer)}, "
        f"{options.use_converted.format(out=converted_dir(path))}."
    )
    return " ".join(parts)
