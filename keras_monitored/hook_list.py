"""HookList: a list of hooks that is itself a hook.

It runs its hooks in list order for every phase, merges what they ask for in
`before_run` into one `SessionRunArgs` (fetches keyed by position, feeds with
TF1's conflict error, RunOptions with TF1's merge rules) and splits the
results again in `after_run`. A `HookDriver` drives one.
"""

from __future__ import annotations

import collections
from typing import Any, Iterable

from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored.session_run_hook import (
    SessionRunArgs,
    SessionRunHook,
    SessionRunValues,
)

_HOOK_METHODS = (
    "begin",
    "after_create_session",
    "before_run",
    "after_run",
    "end",
)


def check_feed_conflicts(first: dict, second: dict, message: str) -> None:
    """Raises TF1's RuntimeError if two feed dicts share a key."""
    common = sorted(set(first) & set(second), key=str)
    if common:
        raise RuntimeError(f"{message} Conflict(s): {common}")


def merge_run_options(options: Any, incoming: Any) -> None:
    """Merges `incoming` RunOptions into `options` with TF1's rules.

    Numeric fields take the larger value, flags are OR-ed, debug watches are
    concatenated.
    """
    if options is None or incoming is None or options is incoming:
        return
    options.trace_level = max(options.trace_level, incoming.trace_level)
    options.timeout_in_ms = max(options.timeout_in_ms, incoming.timeout_in_ms)
    options.inter_op_thread_pool = max(
        options.inter_op_thread_pool, incoming.inter_op_thread_pool
    )
    options.output_partition_graphs = max(
        options.output_partition_graphs, incoming.output_partition_graphs
    )
    options.debug_options.debug_tensor_watch_opts.extend(
        incoming.debug_options.debug_tensor_watch_opts
    )
    options.debug_options.reset_disk_byte_usage = (
        options.debug_options.reset_disk_byte_usage
        or incoming.debug_options.reset_disk_byte_usage
    )
    options.report_tensor_allocations_upon_oom = (
        options.report_tensor_allocations_upon_oom
        or incoming.report_tensor_allocations_upon_oom
    )


def is_hook(value: Any) -> bool:
    """True for an object with the five SessionRunHook methods (a hook
    class, not yet instantiated, is not one)."""
    return not isinstance(value, type) and all(
        callable(getattr(value, name, None)) for name in _HOOK_METHODS
    )


class HookList(SessionRunHook):
    """Runs several hooks as one.

    Any object with the five hook methods runs (km hooks, TF1 hooks and
    subclasses of either); `hook_driver.hook_group` is where TF1 standard
    hooks are translated to km's on their way in.

    Args:
      hooks: an iterable of hooks (or HookLists), or None.
      name: the argument name used in error messages.
      state_key_prefix: prefixes the state keys of these hooks (a group).

    Raises:
      TypeError: `hooks` is not iterable, or an element is not a hook.
    """

    def __init__(
        self,
        hooks: Iterable[Any] | None = None,
        name: str = "hooks",
        *,
        state_key_prefix: str = "",
    ):
        if hooks is None:
            hooks = []
        if (
            isinstance(hooks, (str, bytes))
            or is_hook(hooks)
            or not hasattr(hooks, "__iter__")
        ):
            raise TypeError(
                _validation.invalid(name, hooks, "a list of SessionRunHook")
            )
        self._hooks: list[Any] = []
        self._prefixes: list[str] = []
        for index, hook in enumerate(hooks):
            if isinstance(hook, HookList):
                self._hooks.extend(hook.hooks)
                self._prefixes.extend(hook._prefixes)  # pylint: disable=protected-access
                continue
            if not is_hook(hook):
                raise TypeError(
                    _validation.invalid(
                        f"{name}[{index}]",
                        hook,
                        "a SessionRunHook (an object with begin, "
                        "after_create_session, before_run, after_run and end)",
                    )
                )
            self._hooks.append(hook)
            self._prefixes.append(state_key_prefix)
        self._feeders: list[Any] = []
        self._tracers: list[Any] = []

    def map(self, function: Any) -> "HookList":
        """A HookList of `function(hook)` for each hook, in the same groups."""
        mapped = HookList()
        mapped._hooks = [function(hook) for hook in self._hooks]  # pylint: disable=protected-access
        mapped._prefixes = list(self._prefixes)  # pylint: disable=protected-access
        return mapped

    @property
    def hooks(self) -> list[Any]:
        """The hooks, in call order."""
        return list(self._hooks)

    def __len__(self) -> int:
        return len(self._hooks)

    def __iter__(self):
        return iter(self._hooks)

    def begin(self) -> None:
        for hook in self._hooks:
            hook.begin()

    def after_create_session(self, session: Any, coord: Any) -> None:
        for hook in self._hooks:
            hook.after_create_session(session, coord)

    def before_run(self, run_context: Any) -> SessionRunArgs:
        """Collects every hook's request.

        Returns:
          `SessionRunArgs(fetches={index: fetches}, feed_dict, options)`; the
          fetches dict holds only hooks that asked for something.

        Raises:
          RuntimeError: two hooks feed the same key.
        """
        fetches: dict[int, Any] = {}
        feeds: dict[Any, Any] = {}
        options = None
        self._feeders = []
        self._tracers = []
        for index, hook in enumerate(self._hooks):
            request = hook.before_run(run_context)
            if request is None:
                continue
            if request.fetches is not None:
                fetches[index] = request.fetches
            if request.feed_dict:
                check_feed_conflicts(
                    feeds, request.feed_dict, "Same tensor is fed by two hooks."
                )
                feeds.update(request.feed_dict)
                self._feeders.append(hook)
            if request.options is not None:
                if options is None:
                    options = _compat.run_options()  # never a hook's own object
                merge_run_options(options, request.options)
                if request.options.trace_level:
                    self._tracers.append(hook)
        return SessionRunArgs(fetches=fetches, feed_dict=feeds, options=options)

    @property
    def feeding_hooks(self) -> list[Any]:
        """The hooks whose last `before_run` returned a feed_dict."""
        return list(self._feeders)

    @property
    def tracing_hooks(self) -> list[Any]:
        """The hooks whose last `before_run` asked for a trace level."""
        return list(self._tracers)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        """Hands each hook its own results (None if it asked for nothing)."""
        results = run_values.results or {}
        for index, hook in enumerate(self._hooks):
            hook.after_run(
                run_context,
                SessionRunValues(
                    results=results.get(index),
                    options=run_values.options,
                    run_metadata=run_values.run_metadata,
                ),
            )

    def end(self, session: Any) -> None:
        for hook in self._hooks:
            hook.end(session)

    def next_trigger_step(self, global_step: int) -> int | None:
        """The earliest step after `global_step` any hook needs a step
        boundary at (None: no hook cares). A hook whose step is already past
        wants to see the very next step."""
        steps = []
        for hook in self._hooks:
            method = getattr(hook, "next_trigger_step", None)
            if method is None:
                continue
            step = method(global_step)
            if step is not None:
                steps.append(max(int(step), int(global_step) + 1))
        return min(steps) if steps else None

    def state_keys(self) -> list[str]:
        """A stable key per hook: its group's prefix, its class name and its
        index among the hooks of that class in that group. (Groups keep the
        keys of `hooks` the same on a chief, which also has chief-only and
        default hooks, and on the other workers.)"""
        seen: collections.Counter = collections.Counter()
        keys = []
        for prefix, hook in zip(self._prefixes, self._hooks):
            name = prefix + type(hook).__name__
            keys.append(f"{name}/{seen[name]}")
            seen[name] += 1
        return keys

    def get_state(self) -> dict[str, Any]:
        """The resumable state of every hook that has some."""
        state = {}
        for key, hook in zip(self.state_keys(), self._hooks):
            method = getattr(hook, "get_state", None)
            if method is None:
                continue
            value = method()
            if value is not None:
                state[key] = value
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Hands each hook the state saved under its key."""
        for key, hook in zip(self.state_keys(), self._hooks):
            if key in state and hasattr(hook, "set_state"):
                try:
                    hook.set_state(state[key])
                except (KeyError, TypeError, ValueError) as error:
                    logging.warning(
                        "Could not restore the state of %s: %s", key, error
                    )
