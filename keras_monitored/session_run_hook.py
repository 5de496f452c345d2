"""The SessionRunHook protocol: TF1's hook interface, for TF2 sessions.

A hook is told about the life of a monitored session: `begin` before the
session exists, `after_create_session` each time one is (re)created,
`before_run` / `after_run` around every `run` call, and `end` when the session
closes cleanly. Hooks written against `tf.compat.v1.train.SessionRunHook` run
unchanged: the names, arguments and call order are TF1's.

Two optional methods go beyond TF1:

* `get_state()` / `set_state(state)`: JSON-serialisable state saved with every
  checkpoint and handed back when that checkpoint is restored.
* `next_trigger_step(global_step)`: the next global step at which the hook
  needs to see a step boundary, so a multi-step loop can end exactly there.
"""

from __future__ import annotations

import collections
import collections.abc
from typing import Any

from keras_monitored import _validation
from keras_monitored._fetches import check_run_fetches


class SessionRunHook:
    """Hook to extend calls to `MonitoredSession.run()`.

    Example:

    ```python
    class PrintLoss(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs({"loss": "loss", "step": "global_step"})

        def after_run(self, run_context, run_values):
            print(run_values.results)
    ```
    """

    def begin(self) -> None:
        """Called once before using the session (before it is created)."""

    def after_create_session(self, session: Any, coord: Any) -> None:
        """Called when a new session has been created (again after recovery).

        Args:
          session: the session handle; `session.run(fetches)` reads fetches.
          coord: a `tf.train.Coordinator` for threads the hook may start.
        """

    def before_run(
        self, run_context: "SessionRunContext"
    ) -> "SessionRunArgs | None":
        """Called before each `run()`; may return fetches and feeds to add.

        Args:
          run_context: a `SessionRunContext` for this call.

        Returns:
          None or a `SessionRunArgs`.
        """
        del run_context
        return None

    def after_run(
        self, run_context: "SessionRunContext", run_values: "SessionRunValues"
    ) -> None:
        """Called after each successful `run()` with the results it asked for.

        Args:
          run_context: the same `SessionRunContext` given to `before_run`.
          run_values: a `SessionRunValues`; `results` mirrors the fetches.
        """
        del run_context, run_values

    def end(self, session: Any) -> None:
        """Called at the end of a session that closes without an error.

        Args:
          session: the session handle; reads see the last completed step.
        """
        del session


class SessionRunArgs(
    collections.namedtuple(
        "SessionRunArgs", ["fetches", "feed_dict", "options"]
    )
):
    """What a hook adds to a `run()` call.

    Args:
      fetches: a fetch (a step-output name, `"global_step"`, a `tf.Variable`,
        a zero-argument callable) or a list/tuple/dict/namedtuple of them.
      feed_dict: a dict `str -> value` of keyword arguments for the step
        function.
      options: a `tf.compat.v1.RunOptions`, kept for TF1 compatibility.

    Raises:
      TypeError: a fetch that can never be fetched (a number, a graph or
        eager tensor), or a `feed_dict` that is not a dict. TF1 raised the
        first only once the step had run.
    """

    __slots__ = ()

    def __new__(
        cls, fetches: Any, feed_dict: dict | None = None, options: Any = None
    ):
        if feed_dict is not None and not isinstance(
            feed_dict, collections.abc.Mapping
        ):
            raise TypeError(
                _validation.invalid(
                    "feed_dict",
                    feed_dict,
                    "a dict of step-function keyword arguments or None",
                )
            )
        check_run_fetches("fetches", fetches)
        return super().__new__(cls, fetches, feed_dict, options)


class SessionRunValues(
    collections.namedtuple(
        "SessionRunValues", ["results", "options", "run_metadata"]
    )
):
    """The results of a `run()` handed to `after_run`.

    Attributes:
      results: numpy values with the structure of the hook's fetches, or None
        when the hook asked for nothing.
      options: the `RunOptions` used for the call.
      run_metadata: a `RunMetadata` for the call.
    """

    __slots__ = ()


class SessionRunContext:
    """Information about the `run()` in progress; lets a hook request a stop.

    Args:
      original_args: the caller's `SessionRunArgs(fetches, feed_dict)`.
      session: the session handle (`session.run(fetches)` reads fetches).
      num_steps: how many steps this run executes (more than 1 inside a
        multi-step loop; 0 for a read that runs no step). Not in TF1.
    """

    def __init__(
        self, original_args: SessionRunArgs, session: Any, num_steps: int = 1
    ):
        if not (
            hasattr(original_args, "fetches")
            and hasattr(original_args, "feed_dict")
        ):
            raise TypeError(
                _validation.invalid(
                    "original_args", original_args, "a SessionRunArgs"
                )
            )
        self._original_args = original_args
        self._session = session
        self._num_steps = _validation.check_int(
            "num_steps", num_steps, minimum=0
        )
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        """The caller's arguments to `run()`."""
        return self._original_args

    @property
    def session(self) -> Any:
        """The session handle."""
        return self._session

    @property
    def num_steps(self) -> int:
        """Steps this run executes (0 for a read)."""
        return self._num_steps

    @property
    def stop_requested(self) -> bool:
        """True once a hook called `request_stop()` during this run."""
        return self._stop_requested

    def request_stop(self) -> None:
        """Asks the session to stop after this `run()` (all hooks still see it)."""
        self._stop_requested = True
