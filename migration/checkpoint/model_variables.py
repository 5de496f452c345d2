"""The variables of the object `--model` returns, as matching sees them."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from migration.checkpoint import _compat
from migration.checkpoint.matching import ModelVariable


def is_keras(model: Any) -> bool:
    """True for a Keras 3 layer or model."""
    return isinstance(model, keras.layers.Layer)


def variables_of(model: Any) -> list[Any]:
    """The model's variables, in a fixed order.

    Keras: `model.weights` (trainable and non-trainable weights, such as
    batch-norm moving statistics; not seed-generator state). A `tf.Module`
    or another object with `.variables`: those.
    """
    if is_keras(model):
        return list(model.weights)
    variables = getattr(model, "variables", None)
    if variables is None or callable(variables):
        return []
    return [v for v in variables if isinstance(v, tf.Variable)]


def trainable_variables_of(model: Any) -> list[Any]:
    """The variables the optimizer updates, in the order
    `apply_gradients(zip(grads, model.trainable_variables))` builds it."""
    return list(getattr(model, "trainable_variables", []) or [])


def dtype_name(variable: Any) -> str:
    """The variable's dtype name (`float32`)."""
    dtype = variable.dtype
    return getattr(dtype, "name", None) or str(dtype)


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def describe(model: Any) -> list[ModelVariable]:
    """One `ModelVariable` per variable of `variables_of(model)`.

    Keras variables are named by `.path` (`sequential/conv2d/kernel`) and
    owned by the layer whose `.path` is the directory part; other variables
    by `.name` without `:0`.
    """
    variables = variables_of(model)
    trainable = {id(v) for v in trainable_variables_of(model)}
    own_name = str(getattr(model, "name", "") or "")
    prefix = own_name + "/" if own_name else ""
    layers = {}
    if is_keras(model):
        for layer in _compat.all_layers(model):
            if getattr(layer, "path", None):
                layers.setdefault(layer.path, layer)
    described = []
    for index, variable in enumerate(variables):
        path = getattr(variable, "path", None)
        if not path:
            path = variable.name.split(":")[0]
        owner = layers.get(path.rpartition("/")[0])
        described.append(
            ModelVariable(
                index=index,
                path=path,
                name=_strip(path, prefix),
                shape=tuple(int(d) for d in variable.shape),
                dtype=dtype_name(variable),
                layer=owner.path if owner is not None else None,
                layer_class=type(owner).__name__ if owner is not None else None,
                trainable=id(variable) in trainable,
            )
        )
    return described
