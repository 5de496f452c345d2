"""StepContext: what `MonitoredSession.run_step_fn` hands its `step_fn`."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from keras_monitored import _validation
from keras_monitored.step_session import StepSession


class StepContext:
    """What `run_step_fn` hands its `step_fn`.

    Attributes:
      session: the raw session handle: `session.run(step_fn)` runs a step
        without hooks; `session.run(fetches)` reads.
    """

    def __init__(
        self,
        session: StepSession,
        run_with_hooks_fn: Callable[..., Any],
        stop_fn: Callable[[], None],
    ):
        self._session = session
        self._run_with_hooks_fn = run_with_hooks_fn
        self._stop_fn = stop_fn

    @property
    def session(self) -> StepSession:
        return self._session

    def run_with_hooks(self, *args: Any, **kwargs: Any) -> Any:
        """Same as `MonitoredSession.run`, hooks included."""
        return self._run_with_hooks_fn(*args, **kwargs)

    def request_stop(self) -> None:
        """Ends the loop: `should_stop()` becomes True and StopIteration is
        raised out of `run_step_fn` (the context manager suppresses it).

        Raises:
          StopIteration: always.
        """
        self._stop_fn()
        raise StopIteration("step_fn has requested the iterations to stop.")


def check_step_fn_signature(step_fn: Any) -> None:
    """Checks a `run_step_fn` argument as TF1 did.

    Raises:
      TypeError: `step_fn` is not callable.
      ValueError: its arguments are not `(step_context)` or
        `(self, step_context)`.
    """
    if not callable(step_fn):
        raise TypeError(
            _validation.invalid(
                "step_fn", step_fn, "a function of one `step_context` argument"
            )
        )
    try:
        names = tuple(inspect.signature(step_fn).parameters)
    except (TypeError, ValueError):
        names = ()
    if names not in (("step_context",), ("self", "step_context")):
        raise ValueError(
            "`step_fn` may either have one `step_context` argument, or `self` "
            "and `step_context` arguments if it's an instance method. Got "
            f"{names} instead."
        )
