"""Fetch resolution: what `run(fetches)` and hooks' `SessionRunArgs` mean in TF2.

TF2 has no graph tensors to fetch by handle, so a fetch is one of:

* a `str`: the name of an output of the step (a key of the dict the step
  function returned, or a tensor published with `km.expose`). `"loss:0"` is
  read as `"loss"`; `"global_step"` always names the global step.
* a `tf.Variable` (or Keras variable): fetched by a hook (`SessionRunArgs`),
  its value when the run started, before the step -- what TF1's graph read
  gave, and what TF1 hooks assume (`global_step = results + 1`); read with
  `session.run(var)` outside a step, its current value.
* a zero-argument callable: called after the step.
* a list, tuple, dict or namedtuple of these; results keep the structure.

An eager tensor (or the result of an eager assign) is refused: it is a
value computed once, outside the step -- a TF1 hook that built an op in
`__init__` or `begin()` -- and fetching it would return that constant
forever.

Results are numpy values, as `tf.Session.run` returned. Every place that
fetches (the session, hooks, the Keras adapters) goes through `resolve`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf

from keras_monitored import _compat, _validation

GLOBAL_STEP_NAME = "global_step"
_TENSOR_NAME_SUFFIX = re.compile(r":\d+$")


def to_numpy(value: Any) -> Any:
    """Converts a tensor-like value (or a structure of them) to numpy."""

    def convert(leaf):
        if isinstance(leaf, tf.Variable):
            return leaf.numpy()
        if hasattr(leaf, "numpy"):
            return leaf.numpy()
        if isinstance(
            leaf, (bool, int, float, complex, np.ndarray, np.generic)
        ):
            return np.asarray(leaf)[()]
        return leaf

    return _map_structure(convert, value)


class StepOutputs:
    """The outputs of the last completed step, converted to numpy on demand.

    Args:
      outputs: what the step function returned (tensors, nested).
      exposed: a dict of tensors published with `km.expose`.
    """

    def __init__(self, outputs: Any, exposed: Mapping[str, Any] | None = None):
        self.outputs = outputs
        self._named: dict[str, Any] = {}
        if isinstance(outputs, Mapping):
            self._named.update({str(k): v for k, v in outputs.items()})
        if exposed:
            self._named.update(exposed)
        self._cache: dict[str, Any] = {}

    def names(self) -> list[str]:
        """The fetchable names of this step, sorted."""
        return sorted(self._named)

    def __contains__(self, name: str) -> bool:
        return name in self._named

    def value(self, name: str) -> Any:
        """The numpy value of the output `name` (converted once)."""
        if name not in self._cache:
            self._cache[name] = to_numpy(self._named[name])
        return self._cache[name]

    def numpy_outputs(self) -> Any:
        """All outputs the step function returned, as numpy."""
        return to_numpy(self.outputs)


def output_name(fetch: str) -> str:
    """Maps a TF1 tensor name (`"loss:0"`) to an output name (`"loss"`)."""
    return _TENSOR_NAME_SUFFIX.sub("", fetch) if ":" in fetch else fetch


def describe(fetch: Any) -> str:
    """A short description of a fetch for error messages."""
    text = repr(fetch)
    return text if len(text) <= 120 else text[:117] + "..."


_FETCH_FORMS = (
    "a step-output name (str, e.g. 'loss'; return the value from the step "
    "function or km.expose it), a tf.Variable (its value before the step), or "
    "a zero-argument callable evaluated after each step"
)


def _leaf_problem(fetch: Any) -> str | None:
    """Why `fetch` cannot be fetched, or None if it can."""
    if _compat.is_eager_assign_result(fetch):
        return (
            f"{describe(fetch)} is the result of an assign that ran once, "
            "eagerly, when it was built (a TF1 hook that made an assign op in "
            "__init__ or begin()): TF2 has no op to run again on each step, "
            "and fetching it would read the variable instead. Do the assign "
            "in the step function, or eagerly in after_run; fetch "
            + _FETCH_FORMS
        )
    if isinstance(fetch, str) or _compat.is_variable(fetch):
        return None
    if _compat.is_eager_tensor(fetch):
        return (
            f"{describe(fetch)} is an eager tensor: a value computed once, "
            "outside the step (a TF1 hook that built an op in __init__ or "
            "begin() gets it computed at that moment), so fetching it would "
            "return that constant forever. Fetch " + _FETCH_FORMS
        )
    if _compat.is_symbolic_tensor(fetch):
        return (
            f"{describe(fetch)} is a graph tensor and cannot be fetched: TF2 has no graph to evaluate it in. "
            "Return it from the step function (e.g. `return {'loss': loss}`) or "
            "publish it with `km.expose('name', tensor)` inside the step, then "
            "fetch it by name"
        )
    if callable(fetch):
        return None
    return (
        f"{describe(fetch)} has invalid type {type(fetch).__name__}: expected a "
        "step-output name (str), a tf.Variable, a zero-argument callable, or a "
        "list/tuple/dict/namedtuple of them"
    )


def tagged_fetches(name: str, tensors: Any) -> tuple[list[Any], list[Any]]:
    """(tags, fetches) of a hook's `tensors` argument, validated.

    A dict maps tags to fetches (tags in sorted order, as TF1 logged them); a
    list is its own tags (order kept; an item that cannot be a dict key, a
    variable, is tagged by its name).

    Raises:
      TypeError: not a dict or a list, or a fetch that can never be fetched.
    """
    if isinstance(tensors, Mapping):
        tags = sorted(tensors)
        fetches = [tensors[tag] for tag in tags]
    elif isinstance(tensors, (str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(
            _validation.invalid(
                name, tensors, "a dict tag -> fetch or a list of fetches"
            )
        )
    else:
        fetches = list(tensors)
        tags = [_tag_of(item) for item in fetches]
    check_fetches(name, fetches, received=tensors)
    return tags, fetches


def _tag_of(fetch: Any) -> Any:
    """A list element's tag: itself, as in TF1, or its name when it cannot be
    a dict key (a variable)."""
    try:
        hash(fetch)
    except TypeError:
        return getattr(fetch, "name", repr(fetch))
    return fetch


def check_fetches(name: str, fetches: Any, received: Any = None) -> Any:
    """Validates fetches given to a constructor, naming the argument.

    Args:
      name: the argument's name.
      fetches: the fetches to check.
      received: the argument as the caller gave it, when `fetches` was
        derived from it (default: `fetches`).

    Raises:
      TypeError: a leaf that can never be fetched (a graph tensor, a number).
    """
    if fetches is None:
        raise TypeError(_validation.invalid(name, None, "fetches"))
    for leaf in tf.nest.flatten(fetches):
        problem = _leaf_problem(leaf)
        if problem is not None:
            raise TypeError(
                _validation.invalid(
                    name,
                    fetches if received is None else received,
                    f"fetches that exist: {problem}",
                )
            )
    return fetches


def check_run_fetches(name: str, fetches: Any) -> Any:
    """`check_fetches` for the fetches of one run (a hook's `SessionRunArgs`):
    None is allowed (nothing to fetch), and names cost one type check.

    Raises:
      TypeError: a leaf that can never be fetched.
    """

    def check(leaf: Any) -> None:
        if isinstance(leaf, str):
            return
        problem = _leaf_problem(leaf)
        if problem is not None:
            # The argument, then the words the run-time check uses.
            raise TypeError(
                _validation.invalid(
                    name, fetches, "fetches that can be fetched"
                )
                + f" Fetch {problem}."
            )

    if fetches is not None and not isinstance(fetches, str):
        _map_structure(check, fetches)
    return fetches


def variable_values(
    fetches: Any,
    global_step_variable: Any,
    global_step: Callable[[], Any],
) -> dict[int, Any]:
    """The values, now (before a step), of the variables among `fetches`.

    Args:
      fetches: a hook request's fetches.
      global_step_variable: the session's global step variable, whose value
        the session knows without a device read.
      global_step: returns that value.

    Returns:
      `{id(variable): numpy value}`, for `resolve(..., variables_before=)`.
    """
    values: dict[int, Any] = {}
    step_variable = _compat.as_tf_variable(global_step_variable)

    def read(leaf: Any) -> None:
        if id(leaf) in values or isinstance(leaf, str):
            return
        if _compat.is_variable(leaf) and not _compat.is_eager_assign_result(
            leaf
        ):
            if _compat.as_tf_variable(leaf) is step_variable:
                values[id(leaf)] = global_step()
            else:
                values[id(leaf)] = leaf.numpy()

    _map_structure(read, fetches)
    return values


def resolve(
    fetches: Any,
    outputs: StepOutputs | None,
    global_step: Callable[[], Any],
    variables_before: dict[int, Any] | None = None,
) -> Any:
    """Evaluates `fetches` against a step's outputs.

    Args:
      fetches: a fetch or a structure of fetches (see the module docstring).
      outputs: the outputs of the step the fetches refer to, or None before
        any step has completed.
      global_step: returns the current global step as a numpy int64.
      variables_before: values of fetched variables read before the step
        (`variable_values`); other variables are read now.

    Returns:
      numpy values with the structure of `fetches`.

    Raises:
      KeyError: a name that is not an output of the step.
      TypeError: a fetch of a type that cannot be fetched.
    """
    before = variables_before or {}

    def resolve_leaf(fetch: Any) -> Any:
        if isinstance(fetch, str):
            return _resolve_name(fetch, outputs, global_step)
        problem = _leaf_problem(fetch)
        if problem is not None:
            raise TypeError(f"Fetch {problem}.")
        if _compat.is_variable(fetch):
            value = before.get(id(fetch))
            return fetch.numpy() if value is None else value
        return to_numpy(fetch())

    if fetches is None:
        raise TypeError(
            "Fetch None has invalid type NoneType: expected "
            + _FETCH_FORMS
            + ", or a list/tuple/dict/namedtuple of them."
        )
    return _map_structure(resolve_leaf, fetches)


def _map_structure(function: Callable[[Any], Any], structure: Any) -> Any:
    """`tf.nest.map_structure` for the structures fetches use, without its
    per-call overhead (this runs on every hooked step)."""
    kind = type(structure)
    if kind is dict:
        return {
            key: _map_structure(function, value)
            for key, value in structure.items()
        }
    if kind is list:
        return [_map_structure(function, value) for value in structure]
    if kind is tuple:
        return tuple(_map_structure(function, value) for value in structure)
    if isinstance(structure, _LEAVES) or not tf.nest.is_nested(structure):
        return function(structure)
    return tf.nest.map_structure(function, structure)


# Values that are never nested: no tf.nest check for them (it costs a
# runtime Protocol check, ~25 us, per leaf).
_LEAVES = (
    str,
    bytes,
    bool,
    int,
    float,
    np.ndarray,
    np.generic,
    tf.Tensor,
    tf.Variable,
)


def _resolve_name(
    fetch: str, outputs: StepOutputs | None, global_step: Callable[[], Any]
) -> Any:
    name = output_name(fetch)
    if name == GLOBAL_STEP_NAME:
        return global_step()
    if outputs is None:
        raise KeyError(
            f"Fetch {fetch!r} names a step output, but no step has completed "
            "yet. Available names: ['global_step']."
        )
    if name not in outputs:
        available = outputs.names() + [GLOBAL_STEP_NAME]
        raise KeyError(
            f"Fetch {fetch!r} is not an output of the step. Available names: "
            f"{available}. Return it from the step function in a dict, or "
            "publish it with `km.expose(name, tensor)`."
        )
    return outputs.value(name)
