"""HookDriver: the one place that drives hooks through TF1's lifecycle.

`MonitoredSession` and `HookCallback` (hooks inside `model.fit`) both hand
their hooks to a driver, which owns:

* wiring: TF1 standard hooks translated on entry (`hook_group`), the hooks'
  resumable state connected to the session's checkpoints and restored from
  them, the global step that `tf.compat.v1.train.get_global_step()` finds
  while the session is open;
* the phases, in TF1's order: `begin`, `after_create_session`, `before_run`
  (requests merged: fetches, feeds, RunOptions), `after_run` (results
  resolved with the one fetch resolver; a variable fetched through
  `SessionRunArgs` gives its value before the step), `end`;
* checkpoint timing: a `CheckpointSaverHook` saves in its own turn, as in
  TF1; once every hook has finished the phase, the driver completes the
  hook state of what was saved during it (see `_hook_state`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _tf1_hooks
from keras_monitored import _fetches as fetches_lib
from keras_monitored.hook_list import HookList
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunValues


def hook_group(
    hooks: Iterable[Any] | None,
    name: str = "hooks",
    *,
    state_key_prefix: str = "",
) -> HookList:
    """Hooks as they enter km: validated, TF1 standard hooks translated.

    Args:
      hooks: hooks (km, TF1 objects, subclasses of either) or HookLists.
      name: the argument name for error messages.
      state_key_prefix: the state-key prefix of this group.

    Raises:
      TypeError: `hooks` is not a list of hooks; a TF1 hook TF2 cannot run.
    """
    group = HookList(hooks, name, state_key_prefix=state_key_prefix)
    return group.map(_tf1_hooks.translate)


class global_step_registered:  # noqa: N801 (used as a function)
    """While open, `tf.compat.v1.train.get_global_step()` (and
    `km.get_global_step()`) return `variable` (the `tf.Variable` behind a
    Keras variable such as `optimizer.iterations`, which TF1's lookup
    accepts); the registration before is put back on exit, also after an
    error. Reusable: `HookCallback` opens one twice per batch."""

    def __init__(self, variable: Any):
        self._variable = _compat.as_tf_variable(variable)
        self._saved: list[Any] = []

    def __enter__(self) -> None:
        registered = _compat.global_step_collection()
        self._saved.append(list(registered))
        registered[:] = [self._variable]

    def __exit__(self, *exc_info: Any) -> None:
        _compat.global_step_collection()[:] = self._saved.pop()


class HookDriver:
    """Runs a group of hooks through the phases of one session (or fit).

    Args:
      hooks: the hooks, in call order (see `hook_group`).
    """

    def __init__(self, hooks: HookList):
        self._hooks = hooks
        self._pending: Any = None
        self._said_tracing = False

    @property
    def hooks(self) -> list[Any]:
        """The hooks, in call order (TF1 hooks translated)."""
        return self._hooks.hooks

    @property
    def hook_list(self) -> HookList:
        return self._hooks

    def begin(self) -> None:
        self._hooks.begin()

    def after_create_session(self, session: Any, coord: Any) -> None:
        """Wires `session` (hook state in its checkpoints, restored state
        handed back), then calls every hook's `after_create_session`."""
        session.attach_hooks(self._hooks)
        checkpoints = session.checkpoints
        checkpoints.hook_state.provider = self._hooks.get_state
        self._pending = checkpoints.pending_state
        if session.restored_hook_state:
            self._hooks.set_state(session.restored_hook_state)
        with self._phase():
            self._hooks.after_create_session(session, coord)

    def before_run(
        self, run_context: Any, session: Any
    ) -> tuple[SessionRunArgs, dict[int, Any]]:
        """Collects the hooks' requests.

        Returns:
          The merged `SessionRunArgs` (fetches keyed by hook position), and
          the values before the step of the variables they fetch.

        Raises:
          RuntimeError: two hooks feed the same key.
        """
        request = self._hooks.before_run(run_context)
        before = (
            fetches_lib.variable_values(
                request.fetches, session.global_step, session.global_step_value
            )
            if request.fetches
            else {}
        )
        if request.options is not None and not self._said_tracing:
            self._said_tracing = _say_tracing(
                request.options, self._hooks.tracing_hooks
            )
        return request, before

    def after_run(
        self,
        run_context: Any,
        request: SessionRunArgs,
        variables_before: dict[int, Any],
        session: Any,
        options: Any,
        run_metadata: Any,
    ) -> None:
        """Resolves what each hook asked for against the completed step and
        calls every hook's `after_run`."""
        results = None
        if request.fetches:
            results = fetches_lib.resolve(
                request.fetches,
                session.last_outputs,
                session.global_step_value,
                variables_before,
            )
        with self._phase():
            self._hooks.after_run(
                run_context, SessionRunValues(results, options, run_metadata)
            )

    def end(self, session: Any) -> None:
        with self._phase():
            self._hooks.end(session)

    def next_trigger_step(self, global_step: int) -> int | None:
        return self._hooks.next_trigger_step(global_step)

    @property
    def feeding_hooks(self) -> list[Any]:
        return self._hooks.feeding_hooks

    @contextlib.contextmanager
    def _phase(self) -> Iterator[None]:
        """A phase: checkpoints saved during it get the hooks' state after
        it, once every hook has finished it (not if it failed)."""
        try:
            yield
        except BaseException:
            if self._pending is not None:
                self._pending.discard()
            raise
        if self._pending is not None:
            self._pending.complete()


def _say_tracing(options: Any, hooks: list[Any]) -> bool:
    """Says (once per session: returns True once said) that RunOptions TF2
    cannot honour for tf.function steps were asked for."""
    if options.trace_level == tf.compat.v1.RunOptions.NO_TRACE:
        return False
    logging.warning(
        "%s asked for RunOptions(trace_level=%s): TF2 records no run metadata "
        "for tf.function steps, so run_values.run_metadata stays empty. Use "
        "km.hooks.ProfilerHook (TF2 profiler traces, viewable in "
        "TensorBoard's Profile tab) to trace steps.",
        ", ".join(type(hook).__name__ for hook in hooks) or "A hook",
        tf.compat.v1.RunOptions.TraceLevel.Name(options.trace_level),
    )
    return True
