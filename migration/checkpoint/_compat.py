"""Keras/TensorFlow version handling and every private-API access."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

_NAME_UIDS = "object_name_uids"  # keras/src/utils/naming.py


def all_layers(layer: Any) -> list[Any]:
    """Every layer of a Keras layer or model, itself and nested ones.

    Keras 3 has no public recursive listing (`Model.layers` is one level and
    plain layers have none); `_flatten_layers` is what Keras itself uses.
    The order does not matter to callers.
    """
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    found, stack = [], [layer]
    while stack:  # fallback: the public one-level `layers`, recursively
        current = stack.pop()
        found.append(current)
        stack.extend(getattr(current, "layers", []) or [])
    return found


@contextlib.contextmanager
def fresh_layer_names() -> Iterator[None]:
    """Inside, Keras auto-names layers (and optimizers) as in a fresh program.

    Keras numbers auto-generated names per process (`dense`, `dense_1`...),
    so a model built after other layers gets shifted names, and TF1 names
    (`dense/kernel`) would then meet the wrong layer. Inside this block the
    counters start from zero; afterwards they are at least what they were,
    so later names in this process stay unique.
    """
    try:
        from keras.src.backend.common import (  # pylint: disable=import-outside-toplevel
            global_state,
        )
    except ImportError:  # another Keras layout: names as they come
        yield
        return
    before = global_state.get_global_attribute(_NAME_UIDS) or {}
    global_state.set_global_attribute(_NAME_UIDS, collections.defaultdict(int))
    try:
        yield
    finally:
        inside = global_state.get_global_attribute(_NAME_UIDS) or {}
        merged = collections.defaultdict(int, before)
        for name, count in inside.items():
            merged[name] = max(merged[name], count)
        global_state.set_global_attribute(_NAME_UIDS, merged)
