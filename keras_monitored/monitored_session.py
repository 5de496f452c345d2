"""MonitoredSession and SingularMonitoredSession: TF1's session lifecycle
around compiled TF2 step functions.

The hooks are driven by a `HookDriver`; recovery from preemption errors is
`_recovery`; the feeds of a run are merged by `_run_feeds`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored import _roles as roles
from keras_monitored._preemption import PreemptionWatcher
from keras_monitored._recovery import (
    PREEMPTION_ERRORS,
    RecoveryOptions,
    with_recovery,
)
from keras_monitored._run_feeds import check_loop_feeds, merged_feeds
from keras_monitored.hook_driver import (
    HookDriver,
    global_step_registered,
    hook_group,
)
from keras_monitored.hook_list import merge_run_options
from keras_monitored.session_creator import (
    ChiefSessionCreator,
    SessionCreator,
    as_session_creator,
)
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunContext
from keras_monitored.step_context import StepContext, check_step_fn_signature
from keras_monitored.step_session import StepSession, is_step_fn


class _MonitoredSessionBase:
    """Shared implementation; see `MonitoredSession`."""

    #: Attempts and backoff of recovery (TF1 retried forever, at once).
    recovery_options = RecoveryOptions()

    def __init__(
        self,
        session_creator: SessionCreator,
        hooks: Iterable[Any] | None,
        should_recover: bool,
        stop_grace_period_secs: float = 120,
    ):
        self._creator = as_session_creator(session_creator)
        self._driver = HookDriver(hook_group(hooks))
        self._should_recover = should_recover
        self._stop_grace_period_secs = _validation.check_number(
            "stop_grace_period_secs", stop_grace_period_secs, minimum=0
        )
        self._session: StepSession | None = None
        self._coord: tf.train.Coordinator | None = None
        self._stop_requested = False
        self._closed = False
        # Open until close: a scaffold's own global step is the one TF1's
        # get_global_step() finds while the session is open.
        self._open = contextlib.ExitStack()
        self._preempted = False
        try:
            self._creator.prepare()
            self._preemption = PreemptionWatcher(
                self._creator.options.preemption_signals,
                "the monitored session",
            ).open()
            self._open.callback(self._preemption.close)
            if self._creator.scaffold.global_step is not None:
                self._open.enter_context(
                    global_step_registered(self._creator.scaffold.global_step)
                )
            self._driver.begin()
            self._with_recovery(lambda: None)
        except BaseException:
            self._open.close()
            raise

    # -- public API ----------------------------------------------------------

    @property
    def hooks(self) -> list[Any]:
        """The hooks this session runs, in order (TF1 hooks translated)."""
        return self._driver.hooks

    @property
    def graph(self) -> None:
        """TF2 has no session graph (kept for TF1 code that reads it)."""
        return None

    @property
    def preempted(self) -> bool:
        """True once a preemption signal stopped the session (exit with
        `km.PREEMPTED_EXIT_CODE` after closing it: the checkpoint at the
        last step is saved)."""
        return self._preempted

    def run(
        self,
        fetches: Any,
        feed_dict: dict | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Runs a step (or reads fetches) with every hook around it.

        Args:
          fetches: a step function (called with `feed_dict` as keyword
            arguments, compiled once with `tf.function`), or fetches to read
            without running a step.
          feed_dict: keyword arguments for the step function; iterators are
            advanced inside the compiled step.
          options: a `tf.compat.v1.RunOptions` (merged with the hooks').
          run_metadata: a `tf.compat.v1.RunMetadata` handed to hooks.

        Returns:
          The step's outputs (or the fetches' values) as numpy.

        Raises:
          RuntimeError: the session is closed or a stop was requested.
          tf.errors.OutOfRangeError, StopIteration: an input ran out.
        """
        self._check_open()
        return self._with_recovery(
            lambda: self._run_with_hooks(
                fetches, feed_dict, options, run_metadata
            )
        )

    def run_step_fn(self, step_fn: Callable[[StepContext], Any]) -> Any:
        """Runs `step_fn(step_context)`, which controls hooks and stopping.

        Args:
          step_fn: takes one argument named `step_context` (or `self` and
            `step_context`).

        Returns:
          What `step_fn` returns.

        Raises:
          ValueError: `step_fn` has another signature.
          StopIteration: `step_fn` called `step_context.request_stop()`.
        """
        check_step_fn_signature(step_fn)
        self._check_open()

        def attempt():
            context = StepContext(
                self._session, self._run_with_hooks, self._request_stop
            )
            return step_fn(context)

        return self._with_recovery(attempt)

    def should_stop(self) -> bool:
        """True once a stop was requested, an input ran out, or after close."""
        if self._closed or self._stop_requested:
            return True
        if self._coord is None:
            return False
        try:
            self._coord.raise_requested_exception()
        except PREEMPTION_ERRORS as error:
            if not self._should_recover:
                raise
            logging.info(
                "A hook thread reported %s; recreating the session.", error
            )
            self._discard_session()
            self._with_recovery(lambda: None)  # TF1 recreated it at once
            return False
        except Exception:  # pylint: disable=broad-except
            if self._should_recover:
                return True
            raise
        return self._coord.should_stop()

    def close(self) -> None:
        """Calls `end` on every hook, then releases the session.

        Raises:
          RuntimeError: the session was already closed.
        """
        self._close_internal(None)

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception_value, traceback) -> bool:
        if exception_type in (tf.errors.OutOfRangeError, StopIteration):
            exception_type = None
        self._close_internal(exception_type)
        return exception_type is None

    # -- internals -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Run called on a closed session.")

    def _request_stop(self) -> None:
        self._stop_requested = True

    def _create_session(self) -> None:
        session = self._creator.create_session()
        self._coord = tf.train.Coordinator(clean_stop_exception_types=[])
        self._session = session
        self._driver.after_create_session(session, self._coord)

    def _ensure_session(self) -> None:
        if self._session is None:
            self._create_session()

    def _discard_session(self, raise_thread_errors: bool = False) -> None:
        """Stops hook threads and releases the session.

        Args:
          raise_thread_errors: re-raise what a hook thread reported to the
            coordinator (TF1's `close()` did), except preemption errors,
            which are logged; when False (recovery) everything is logged.
        """
        session, coord = self._session, self._coord
        self._session, self._coord = None, None
        try:
            if coord is not None:
                coord.request_stop()
                try:
                    coord.join(
                        stop_grace_period_secs=self._stop_grace_period_secs,
                        ignore_live_threads=True,
                    )
                except PREEMPTION_ERRORS as error:
                    logging.error(
                        "A hook thread reported %s while the session closed.",
                        error,
                    )
                except Exception as error:  # pylint: disable=broad-except
                    if raise_thread_errors:
                        raise
                    logging.error("A hook thread failed: %s", error)
        finally:
            if session is not None:
                session.close()

    def _with_recovery(self, call: Callable[[], Any]) -> Any:
        return with_recovery(
            call,
            ensure_session=self._ensure_session,
            discard_session=self._discard_session,
            should_recover=self._should_recover,
            collective=roles.is_collective(self._creator.strategy),
            options=self.recovery_options,
        )

    def _run_with_hooks(
        self,
        fetches: Any,
        feed_dict: dict | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        session = self._session
        stepping = is_step_fn(fetches)
        num_steps = self._loop_length(session, feed_dict) if stepping else 0
        if num_steps and session.steps_per_loop > 1:
            # Hooks differ between chief and workers; the collectives of the
            # single-step and the looped function differ too: the chief sizes.
            num_steps = session.agreement.chief_value(num_steps)
        run_context = SessionRunContext(
            SessionRunArgs(fetches, feed_dict), session, num_steps=num_steps
        )
        options = options if options is not None else _compat.run_options()
        request, variables_before = self._driver.before_run(
            run_context, session
        )
        merge_run_options(options, request.options)
        feeds = merged_feeds(feed_dict, request.feed_dict, stepping, fetches)
        if request.feed_dict and num_steps > 1:
            check_loop_feeds(
                request.feed_dict, num_steps, self._driver.feeding_hooks
            )
        if stepping:
            caller_results = session.run_step(
                fetches, feeds, num_steps
            ).numpy_outputs()
        else:
            caller_results = session.read(fetches)
        run_metadata = (
            run_metadata if run_metadata is not None else _compat.run_metadata()
        )
        self._driver.after_run(
            run_context,
            request,
            variables_before,
            session,
            options,
            run_metadata,
        )
        stop, preempt = run_context.stop_requested, self._preemption.requested
        if stepping:
            # A stop asked for on one worker (a chief-only hook, a signal
            # that reached one worker) stops all, after the same step.
            stop, preempt = session.agreement.any_worker_of(stop, preempt)
        if preempt and not self._preempted:
            self._preempted = True
            logging.warning(
                "Preempted: stopping after global step %d (a CheckpointSaverHook "
                "saves it at end).",
                int(session.global_step_value()),
            )
        self._stop_requested = self._stop_requested or stop or preempt
        return caller_results

    def _loop_length(self, session: StepSession, feed_dict: dict | None) -> int:
        """Steps for the next call: up to steps_per_loop, ending on the next
        step some hook needs to see."""
        limit = session.loop_limit(feed_dict)
        if limit == 1:
            return 1
        current = int(session.global_step_value())
        trigger = self._driver.next_trigger_step(current)
        if trigger is not None and trigger > current:
            limit = min(limit, trigger - current)
        return max(1, limit)

    def _close_internal(self, exception_type: Any) -> None:
        if self._closed:
            raise RuntimeError("Session is already closed.")
        try:
            if not exception_type and self._session is not None:
                # Scheduled steps (ParameterServerStrategy) finish before
                # the end hooks read or save the variables.
                join = getattr(self._session, "join", None)
                if join is not None:
                    join()
                self._driver.end(self._session)
        finally:
            self._closed = True
            try:
                self._discard_session(raise_thread_errors=True)
            finally:
                self._open.close()
                # Iterators km made over datasets fed as values go now, while
                # their pipelines' threads can still finish: left for the
                # interpreter's exit, an autotuned pipeline over a Python
                # generator deadlocks it.
                self._creator.release_inputs()


class MonitoredSession(_MonitoredSessionBase):
    """A session that runs hooks, restores checkpoints and recovers from
    failures.

    Creation calls `begin` on every hook, creates the session through
    `session_creator` (restoring the latest checkpoint) and calls
    `after_create_session`. Each `run` calls `before_run` / `after_run`
    around a compiled step. `close` (or leaving the `with` block) calls
    `end`; `tf.errors.OutOfRangeError` and `StopIteration` leaving the block
    count as a normal end and are suppressed. On `AbortedError` or
    `UnavailableError` the session is recreated (latest checkpoint restored,
    `after_create_session` called again) and the call retried, up to
    `recovery_options.max_attempts` times with exponential backoff (TF1
    retried forever, immediately).

    Args:
      session_creator: a `ChiefSessionCreator` (default) or
        `WorkerSessionCreator`.
      hooks: `SessionRunHook`s (km or TF1) run in list order.
      stop_grace_period_secs: how long `close` waits for hook threads
        registered with the coordinator.

    Example:

    ```python
    def train_step(batch):
        ...
        return {"loss": loss}

    with km.MonitoredSession(hooks=[km.hooks.StopAtStepHook(100)]) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": iterator})
    ```
    """

    def __init__(
        self,
        session_creator: SessionCreator | None = None,
        hooks: Iterable[Any] | None = None,
        stop_grace_period_secs: float = 120,
    ):
        super().__init__(
            session_creator,
            hooks,
            should_recover=True,
            stop_grace_period_secs=stop_grace_period_secs,
        )


class SingularMonitoredSession(_MonitoredSessionBase):
    """A chief session without recovery, with access to the raw session.

    Args:
      hooks: `SessionRunHook`s run in list order.
      scaffold: a `km.Scaffold`.
      master: see `ChiefSessionCreator`.
      config: see `ChiefSessionCreator`.
      checkpoint_dir: restore the latest checkpoint found here.
      stop_grace_period_secs: see `MonitoredSession`.
      checkpoint_filename_with_path: restore this checkpoint instead.
      strategy: the `tf.distribute.Strategy` to run under.
      steps_per_loop: the most steps one `run` call may execute.
      max_to_keep: checkpoints kept per directory.

    Example:

    ```python
    with km.SingularMonitoredSession(checkpoint_dir=d) as sess:
        sess.raw_session().run("global_step")
    ```
    """

    def __init__(
        self,
        hooks: Iterable[Any] | None = None,
        scaffold: Any = None,
        master: str = "",
        config: Any = None,
        checkpoint_dir: str | None = None,
        stop_grace_period_secs: float = 120,
        checkpoint_filename_with_path: str | None = None,
        *,
        strategy: tf.distribute.Strategy | None = None,
        steps_per_loop: int = 1,
        max_to_keep: int | None = 5,
    ):
        creator = ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=config,
            checkpoint_dir=checkpoint_dir,
            checkpoint_filename_with_path=checkpoint_filename_with_path,
            strategy=strategy,
            steps_per_loop=steps_per_loop,
            max_to_keep=max_to_keep,
        )
        super().__init__(
            creator,
            hooks,
            should_recover=False,
            stop_grace_period_secs=stop_grace_period_secs,
        )

    def raw_session(self) -> StepSession | None:
        """The session handle (None once closed)."""
        return self._session
