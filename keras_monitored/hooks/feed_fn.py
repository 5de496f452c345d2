"""FeedFnHook: feed the step function's arguments from a function."""

from __future__ import annotations

from typing import Any, Callable

from keras_monitored import _validation
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook


class FeedFnHook(SessionRunHook):
    """Calls `feed_fn()` before every run and feeds what it returns.

    Each step gets its own feed, so with `steps_per_loop` the session runs
    one step per call while this hook is present.

    Args:
      feed_fn: takes no arguments and returns a dict of step-function keyword
        arguments (TF1: a dict of placeholder -> value).

    Raises:
      TypeError: `feed_fn` is not callable.

    Example:

    ```python
    km.hooks.FeedFnHook(lambda: {"learning_rate": schedule()})
    ```
    """

    def __init__(self, feed_fn: Callable[[], dict]):
        self.feed_fn = _validation.check_callable(
            "feed_fn", feed_fn, allow_none=False
        )

    def before_run(self, run_context: Any) -> SessionRunArgs:
        del run_context
        return SessionRunArgs(fetches=None, feed_dict=self.feed_fn())

    def next_trigger_step(self, global_step: int) -> int:
        """Every step: each needs its own feed (multi-step loops run 1 step)."""
        return int(global_step) + 1
