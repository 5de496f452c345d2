"""LoggingTensorHook: log fetched values every N iterations, N seconds, or at
the end, in TF1's line format."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from absl import logging

from keras_monitored import _validation
from keras_monitored._fetches import tagged_fetches
from keras_monitored.hooks.timer import (
    Clock,
    NeverTriggerTimer,
    SecondOrStepTimer,
)
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook


class LoggingTensorHook(SessionRunHook):
    """Logs the values of fetches every N iterations, every N seconds, or at end.

    Lines are TF1's: `tag = value, tag = value (0.123 sec)` at INFO through
    absl logging, tags of a dict in sorted order, the first line without the
    elapsed time. Iterations are counted locally, as in TF1; a multi-step
    loop counts each of its steps, and ends exactly on the iterations that
    log. The iteration count is resumable state.

    Args:
      tensors: a dict `tag -> fetch`, or a list of fetches (each its own tag).
        Fetches are step-output names (`"loss"`), `"global_step"`,
        variables, callables, or names published with `km.expose`.
      every_n_iter: log once every N local iterations.
      every_n_secs: log once every N seconds.
      at_end: also log when the session ends (the last step's values).
      formatter: `formatter(dict tag -> value) -> str` replaces the format.
      clock: the time source for `every_n_secs`.

    Raises:
      ValueError: not (at_end and/or exactly one of every_n_iter and
        every_n_secs); every_n_iter <= 0.
      TypeError: an argument of the wrong type, or a fetch that can never be
        fetched (a graph tensor).

    Example:

    ```python
    km.hooks.LoggingTensorHook({"loss": "loss", "step": "global_step"},
                               every_n_iter=100)
    ```
    """

    def __init__(
        self,
        tensors: Mapping[str, Any] | Iterable[Any],
        every_n_iter: int | None = None,
        every_n_secs: float | None = None,
        at_end: bool = False,
        formatter: Callable[[dict], str] | None = None,
        *,
        clock: Clock = time.time,
    ):
        only_log_at_end = (
            at_end and every_n_iter is None and every_n_secs is None
        )
        if not only_log_at_end and (every_n_iter is None) == (
            every_n_secs is None
        ):
            raise ValueError(
                _validation.tf1_message(
                    "either at_end and/or exactly one of every_n_iter and "
                    "every_n_secs must be provided.",
                    every_n_iter=every_n_iter,
                    every_n_secs=every_n_secs,
                    at_end=at_end,
                )
            )
        _validation.check_int("every_n_iter", every_n_iter, allow_none=True)
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(
                _validation.tf1_message(
                    f"invalid every_n_iter={every_n_iter}.",
                    every_n_iter=every_n_iter,
                )
            )
        _validation.check_bool("at_end", at_end)
        self._formatter = _validation.check_callable("formatter", formatter)
        self._tag_order, self._fetches = tagged_fetches("tensors", tensors)
        self._timer = (
            NeverTriggerTimer()
            if only_log_at_end
            else SecondOrStepTimer(
                every_secs=every_n_secs,
                every_steps=every_n_iter,
                clock=clock,
                arg_names=("every_n_secs", "every_n_iter"),
            )
        )
        self._log_at_end = at_end
        self._iter_count = 0
        self._should_trigger = False
        self._last_iteration = 0

    def begin(self) -> None:
        self._timer.reset()
        self._iter_count = 0

    def before_run(self, run_context: Any) -> SessionRunArgs | None:
        steps = max(1, run_context.num_steps)
        self._last_iteration = self._iter_count + steps - 1
        self._should_trigger = self._timer.should_trigger_for_step(
            self._last_iteration
        )
        return SessionRunArgs(self._fetches) if self._should_trigger else None

    def after_run(self, run_context: Any, run_values: Any) -> None:
        if self._should_trigger:
            self._log_tensors(run_values.results, self._last_iteration)
        self._iter_count = self._last_iteration + 1

    def end(self, session: Any) -> None:
        if self._log_at_end:
            self._log_tensors(session.run(self._fetches), self._iter_count)

    def next_trigger_step(self, global_step: int) -> int | None:
        """The global step whose iteration logs next."""
        iteration = self._timer.next_trigger_step(self._iter_count - 1)
        if iteration is None:
            return None
        return int(global_step) + (iteration - self._iter_count) + 1

    def get_state(self) -> dict[str, Any]:
        return {
            "iter_count": self._iter_count,
            "timer": self._timer.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._iter_count = int(state["iter_count"])
        self._timer.set_state(state.get("timer", {}))

    def _log_tensors(self, values: list, iteration: int) -> None:
        elapsed_secs, _ = self._timer.update_last_triggered_step(iteration)
        with np.printoptions(suppress=True):
            if self._formatter:
                logging.info(
                    "%s", self._formatter(dict(zip(self._tag_order, values)))
                )
                return
            # "%s" (str), not f-string formatting: numpy scalars must print as
            # numpy prints them (0.27836168), the way TF1 logged them.
            stats = ", ".join(
                "%s = %s" % (tag, value)
                for tag, value in zip(self._tag_order, values)
            )
            if elapsed_secs is not None:
                logging.info("%s (%.3f sec)", stats, elapsed_secs)
            else:
                logging.info("%s", stats)
