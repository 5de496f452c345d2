"""The logs CallbackHook hands Keras callbacks, made as `model.fit` makes them.

fit's batch logs are its metrics' running means over the epoch so far (not
the step's raw values), its epoch logs are those means at the epoch's end
plus the validation results as `val_<name>`, and every value is a Python
float. Here the logs are made from the step's outputs: scalars only
(anything else is left out, said once), averaged over the epoch's steps.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from keras_monitored import _fetches as fetches_lib

# Callbacks that add `learning_rate` to the epoch logs before the callbacks
# after them (and their own `monitor`) read them.
_ADDS_LEARNING_RATE = ("LearningRateScheduler", "ReduceLROnPlateau")


def _as_scalar(value: Any) -> float | None:
    """`value` as a Python float if it is a real scalar, else None."""
    array = np.asarray(value)
    if array.ndim != 0 or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        return None
    if np.iscomplexobj(array):
        return None
    return float(array)


def _describe(value: Any) -> str:
    array = np.asarray(value)
    return f"shape {tuple(array.shape)}, dtype {array.dtype}"


def scalar_logs(values: Mapping[str, Any]) -> tuple[dict, dict]:
    """Splits named values into Keras logs and what cannot be one.

    Nested dicts are flattened to their keys, as Keras flattens logs.

    Returns:
      (logs: name -> float, left_out: name -> description of the value).
    """
    logs: dict[str, float] = {}
    left_out: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            inner_logs, inner_left_out = scalar_logs(value)
            logs.update(inner_logs)
            left_out.update(inner_left_out)
            continue
        scalar = _as_scalar(fetches_lib.to_numpy(value))
        if scalar is None:
            left_out[str(name)] = _describe(fetches_lib.to_numpy(value))
        else:
            logs[str(name)] = scalar
    return logs, left_out


def step_values(outputs: Any) -> dict[str, Any]:
    """The named outputs of a step (`StepOutputs`) that can become logs."""
    if outputs is None or not isinstance(outputs.outputs, Mapping):
        return {}
    return {str(name): outputs.value(str(name)) for name in outputs.outputs}


class RunningLogs:
    """The open epoch's running means of the step's scalar outputs.

    A run of N steps (a multi-step loop) returns its last step's outputs;
    they count for the N steps.
    """

    def __init__(self):
        self._sums: dict[str, float] = {}
        self._weights: dict[str, float] = {}
        self._noted: set[str] = set()

    def add(self, outputs: Any, steps: int) -> dict[str, float]:
        """Adds a run's outputs; returns the batch logs (running means)."""
        logs, left_out = scalar_logs(step_values(outputs))
        self._note(left_out)
        weight = float(max(int(steps), 1))
        for name, value in logs.items():
            self._sums[name] = self._sums.get(name, 0.0) + value * weight
            self._weights[name] = self._weights.get(name, 0.0) + weight
        return self.means()

    def means(self) -> dict[str, float]:
        return {
            name: total / self._weights[name]
            for name, total in self._sums.items()
        }

    @property
    def empty(self) -> bool:
        return not self._weights

    def reset(self) -> None:
        self._sums, self._weights = {}, {}

    def get_state(self) -> dict[str, Any]:
        return {"sums": dict(self._sums), "weights": dict(self._weights)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Takes the state `get_state` gave (or the older form: `sums`
        and a count of `batches`)."""
        self._sums = {k: float(v) for k, v in state.get("sums", {}).items()}
        weights = state.get("weights")
        if weights is None:
            batches = float(state.get("batches", 0))
            weights = {name: batches for name in self._sums}
        self._weights = {k: float(v) for k, v in weights.items()}

    def _note(self, left_out: dict[str, str]) -> None:
        new = {k: v for k, v in left_out.items() if k not in self._noted}
        if not new:
            return
        self._noted.update(new)
        logging.warning(
            "CallbackHook: step outputs that are not scalars are left out of "
            "the Keras logs (fit's logs hold scalars only): %s. Return a "
            "scalar (e.g. tf.reduce_mean) to give callbacks a value.",
            ", ".join(f"{k} ({v})" for k, v in sorted(new.items())),
        )


class Validation:
    """`validation_fn` compiled once and run at every epoch end.

    Args:
      fn: a zero-argument callable returning a dict of scalars.
    """

    def __init__(self, fn: Callable[[], Any]):
        self._fn = fn if _is_compiled(fn) else tf.function(fn)

    def __call__(self) -> dict[str, float]:
        """Runs the validation; returns its results as Keras logs.

        Raises:
          TypeError: the function did not return a dict.
          ValueError: a result is not a scalar.
        """
        results = self._fn()
        if not isinstance(results, Mapping):
            raise TypeError(
                "validation_fn must return a dict of scalars (name -> "
                f"value; they join the epoch logs as val_<name>). It "
                f"returned: {results!r}."
            )
        logs, left_out = scalar_logs(results)
        if left_out:
            raise ValueError(
                "validation_fn must return a dict of scalars; these are not: "
                + ", ".join(f"{k} ({v})" for k, v in sorted(left_out.items()))
                + ". Reduce them (e.g. tf.reduce_mean)."
            )
        return logs


def _is_compiled(fn: Any) -> bool:
    return isinstance(fn, tf.types.experimental.PolymorphicFunction)


def warn_unprovided_monitors(
    callbacks: Iterable[Any], available: Iterable[str], warned: set[int]
) -> None:
    """Warns (once per callback) about a callback whose `monitor` no step
    output and no validation result provides."""
    callbacks = list(callbacks)
    names = set(available)
    if any(type(c).__name__ in _ADDS_LEARNING_RATE for c in callbacks):
        names.add("learning_rate")
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if getattr(callback, "save_best_only", True) is False:
            continue  # ModelCheckpoint saving every time reads no monitor
        if (
            not isinstance(monitor, str)
            or monitor in names
            or id(callback) in warned
        ):
            continue
        warned.add(id(callback))
        hint = (
            f"pass CallbackHook(validation_fn=...) returning "
            f"{{{monitor[4:]!r}: ...}} (it joins the logs as {monitor})"
            if monitor.startswith("val_")
            else f"return {monitor!r} from the step function"
        )
        logging.warning(
            "CallbackHook: %s monitors %r, but no step output or validation "
            "result provides it (available: %s): %s, or monitor one of "
            "those.",
            type(callback).__name__,
            monitor,
            ", ".join(sorted(names)) or "none",
            hint,
        )
