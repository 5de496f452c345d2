"""FinalOpsHook: evaluate fetches once, when the session ends."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import tensorflow as tf
from absl import logging

from keras_monitored import _validation
from keras_monitored._fetches import check_fetches, to_numpy
from keras_monitored.session_run_hook import SessionRunHook


class FinalOpsHook(SessionRunHook):
    """Evaluates `final_ops` in `end` and keeps the values.

    Args:
      final_ops: fetches read at the end (names of the last step's outputs,
        variables, callables, structures of them).
      final_ops_feed_dict: keyword arguments; then `final_ops` must be a
        callable and is called with them (a TF2 stand-in for feeding the
        final ops).
      on_values: called with the values once they exist (km uses it to write
        them back to a translated TF1 hook).

    Raises:
      TypeError: `final_ops` cannot be fetched, or `final_ops_feed_dict` is
        given with a `final_ops` that is not callable.

    Example:

    ```python
    final = km.hooks.FinalOpsHook({"loss": "loss", "w": model.kernel})
    ...  # after the session closed:
    final.final_ops_values["loss"]
    ```
    """

    def __init__(
        self,
        final_ops: Any,
        final_ops_feed_dict: Mapping[str, Any] | None = None,
        *,
        on_values: Callable[[Any], None] | None = None,
    ):
        if final_ops is not None:
            check_fetches("final_ops", final_ops)
        if final_ops_feed_dict is not None:
            if not isinstance(final_ops_feed_dict, Mapping):
                raise TypeError(
                    _validation.invalid(
                        "final_ops_feed_dict",
                        final_ops_feed_dict,
                        "a dict or None",
                    )
                )
            if not callable(final_ops):
                raise TypeError(
                    _validation.invalid(
                        "final_ops_feed_dict",
                        final_ops_feed_dict,
                        "None unless final_ops is a callable to call with these keyword arguments",
                    )
                )
        self._final_ops = final_ops
        self._final_ops_feed_dict = final_ops_feed_dict
        self._final_ops_values = None
        self._on_values = _validation.check_callable("on_values", on_values)

    @property
    def final_ops_values(self) -> Any:
        """The values read at the end (None before)."""
        return self._final_ops_values

    def end(self, session: Any) -> None:
        if self._final_ops is None:
            return
        try:
            if self._final_ops_feed_dict is not None:
                values = to_numpy(self._final_ops(**self._final_ops_feed_dict))
            else:
                # In a 1-tuple a callable is read (called), never run as a step.
                values = session.run((self._final_ops,))[0]
        except (tf.errors.OutOfRangeError, StopIteration) as error:
            logging.warning(
                "An OutOfRangeError or StopIteration exception was raised while "
                "evaluating final_ops in FinalOpsHook. Final ops must not consume "
                "input: read values (step outputs, variables) instead of running "
                "input-dependent computations. Error: %s",
                error,
            )
            raise
        self._final_ops_values = values
        if self._on_values is not None:
            self._on_values(values)
