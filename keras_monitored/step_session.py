"""StepSession: the TF2 stand-in for a raw `tf.Session`.

A session creator makes one; `MonitoredSession` drives it; hooks receive it
as `session` / `run_context.session`. `run(step_fn, feed_dict)` runs a step
function compiled once with `tf.function` (per replica with `strategy.run`,
advancing the global step inside the compiled function); `run(fetches)`
with anything else reads fetches without running a step.
"""

from __future__ import annotations

import collections.abc
import functools
import types
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored import _fetches as fetches_lib
from keras_monitored._checkpointing import DEFAULT_BASENAME, SessionCheckpoints
from keras_monitored._session_options import SessionOptions
from keras_monitored._step_compiler import (
    check_feeds_taken,
    compile_step,
    is_graph_iterator,
)
from keras_monitored._step_summaries import StepSummaryRecorder, SummaryTarget
from keras_monitored._written_variables import UnsavedVariablesCheck
from keras_monitored.session_handle import SessionHandle

StepFn = Callable[..., Any]
# Step functions kept compiled per session; the oldest is dropped past this.
_MAX_COMPILED_STEPS = 64


@functools.lru_cache(maxsize=None)
def _no_summary_targets() -> tf.Tensor:
    """The summary-targets input of a session that records no summaries
    (made on first use: nothing runs TensorFlow at import time)."""
    return tf.constant([], tf.int64)


def is_step_fn(fetches: Any) -> bool:
    """True if `run(fetches)` means "run this step function"."""
    return callable(fetches) and not isinstance(
        fetches, (tf.Variable, tf.Tensor)
    )


def is_host_iterator(value: Any) -> bool:
    """True for a Python iterator (advanced on the host, once per call)."""
    return isinstance(
        value, collections.abc.Iterator
    ) and not is_graph_iterator(value)


def _as_tensor_if_plain(value: Any) -> Any:
    """Converts plain Python/numpy values to tensors so a new value does not
    retrace the step; leaves tensors, composites and other objects alone."""
    if isinstance(value, (bool, int, float, complex, np.ndarray, np.generic)):
        return tf.convert_to_tensor(value)
    return value


def _signature(value: Any) -> Any:
    """A cheap key for the input signature of a compiled call: tensors by
    dtype and shape, anything else (iterators) by identity."""
    if isinstance(value, dict):
        return tuple(
            (key, _signature(item)) for key, item in sorted(value.items())
        )
    if isinstance(value, (list, tuple)):
        return tuple(_signature(item) for item in value)
    if isinstance(value, tf.Tensor):
        return (value.dtype, tuple(value.shape))
    return (type(value), id(value))


def _compile_key(step_fn: StepFn) -> Any:
    """What identifies a step function for the compile cache.

    A lambda or nested function re-created on every iteration
    (`sess.run(lambda: step(model))`) is the same code over the same
    objects -- its closure cells and the globals it names -- so it shares one
    compiled function instead of retracing every call. Anything else is keyed
    by itself.
    """
    if not isinstance(step_fn, types.FunctionType):
        return step_fn
    cells = []
    for cell in step_fn.__closure__ or ():
        try:
            cells.append(id(cell.cell_contents))
        except ValueError:  # an empty cell
            cells.append(None)
    namespace = step_fn.__globals__
    named = tuple(id(namespace.get(name)) for name in step_fn.__code__.co_names)
    return (
        step_fn.__code__,
        tuple(cells),
        named,
        id(step_fn.__defaults__),
        id(step_fn.__kwdefaults__),
        id(namespace),
    )


def check_one_step_per_host_feed(host_fed: bool, num_steps: int) -> None:
    """Refuses a loop of steps fed by a Python iterator (advanced on the
    host, once per call).

    Raises:
      ValueError: `num_steps` > 1 with a host-fed step.
    """
    if host_fed and num_steps > 1:
        raise ValueError(
            _validation.invalid(
                "num_steps",
                num_steps,
                "1: a Python iterator feeds the step, so each call runs "
                "one step",
            )
        )


class StepSession(SessionHandle):
    """Runs compiled steps and reads fetches for one monitored session.

    When the session advances the global step it counts steps on the host, so
    `global_step_value()` needs no device round trip.

    Args:
      options: the strategy (resolved), steps per loop, checkpoints kept.
      global_step: the global step variable.
      advance_global_step: True if the session advances the global step
        (False when the step function advances it itself).
      checkpoints: what this session saves and restores.
      scaffold: the scaffold the session was created from.
      is_chief: whether this process writes checkpoints and summaries.
      dataset_iterators: the iterators over datasets fed as values, shared
        between the sessions one creator makes.
      unsaved_check: refuses steps that update trainable variables the
        checkpoint does not reach (sessions with a checkpoint_dir).
    """

    def __init__(
        self,
        *,
        options: SessionOptions,
        global_step: tf.Variable,
        advance_global_step: bool,
        checkpoints: SessionCheckpoints,
        scaffold: Any,
        is_chief: bool = True,
        dataset_iterators: dict[int, tuple[Any, Any]] | None = None,
        unsaved_check: UnsavedVariablesCheck | None = None,
    ):
        super().__init__(
            strategy=options.strategy,
            global_step=global_step,
            checkpoints=checkpoints,
            scaffold=scaffold,
            is_chief=is_chief,
        )
        self._advance = advance_global_step
        self._unsaved_check = unsaved_check
        self._steps_per_loop = options.steps_per_loop
        self._compiled: dict[
            Any, tuple[StepFn, tuple[Callable[..., Any], Callable[..., Any]]]
        ] = {}
        self._concrete: dict[Any, tuple[Any, tuple, Any]] = {}
        # Shared with later sessions of the same creator: input that was fed
        # as a dataset continues where it was after a recovery.
        self._dataset_iterators = (
            {} if dataset_iterators is None else dataset_iterators
        )
        self._summary_recorder: StepSummaryRecorder | None = None
        self._step_after: tf.Tensor | None = None

    @property
    def steps_per_loop(self) -> int:
        return self._steps_per_loop

    def checkpoint_writer(
        self,
        directory: str,
        basename: str = DEFAULT_BASENAME,
        items: Mapping[str, Any] | None = None,
    ) -> Any:
        """A writer for `directory` (see `SessionHandle`).

        A writer of the session's own checkpoint (a `CheckpointSaverHook`
        without a saver or scaffold of its own) makes the session check its
        steps as a `checkpoint_dir` does: a step that updates trainable
        variables the checkpoint would not save is refused. What a hook's
        own saver saves counts as saved.
        """
        writer = super().checkpoint_writer(directory, basename, items)
        if self._unsaved_check is not None:
            self._unsaved_check.add_root(writer.root)
        elif items is None:
            self._unsaved_check = UnsavedVariablesCheck(
                writer.root,
                global_step=self._global_step,
                checkpoint_dir=directory,
                allow=getattr(self._scaffold, "allow_partial_restore", False),
            )
        return writer

    def record_step_summaries(self, destination: Any) -> SummaryTarget:
        """Makes the step's `tf.summary` calls write to `destination` (a log
        directory or a `tf.summary.SummaryWriter`) on demand.

        Returns:
          A target: `assign` it the global step (after the step) of a step
          whose summaries should be written.

        Raises:
          ValueError: another directory already records this session's steps
            (a step function has one default writer).
        """
        if self._summary_recorder is None:
            self._summary_recorder = StepSummaryRecorder(destination)
        elif not self._summary_recorder.writes_to(destination):
            raise ValueError(
                f"The step's tf.summary calls already go to {self._summary_recorder.destination!r}; "
                f"a second SummarySaverHook cannot record them into {destination!r}. Give it "
                "`summary_op` (output names to write) instead."
            )
        return self._summary_recorder.add_target()

    def run(
        self,
        fetches: Any,
        feed_dict: Mapping[str, Any] | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Runs a step function (no hooks), or reads fetches.

        Args:
          fetches: a step function, or fetches (section 1 of the contract).
          feed_dict: keyword arguments for a step function.
          options: accepted for TF1 compatibility.
          run_metadata: accepted for TF1 compatibility.

        Returns:
          numpy values: the step's outputs, or the fetches' values.
        """
        self._check_open()
        if is_step_fn(fetches):
            return self.run_step(fetches, feed_dict or {}).numpy_outputs()
        return super().run(fetches, feed_dict, options, run_metadata)

    def loop_limit(self, feeds: Mapping[str, Any] | None) -> int:
        """The most steps one call may run with these feeds.

        `steps_per_loop`, or 1 when a Python iterator feeds the step (it is
        advanced on the host, once per call).
        """
        if self._steps_per_loop > 1 and any(
            is_host_iterator(v) for v in (feeds or {}).values()
        ):
            logging.log_first_n(
                logging.WARNING,
                "A Python iterator feeds the step, so it runs one step per "
                "call (steps_per_loop needs a tf.data or distributed iterator).",
                1,
            )
            return 1
        return self._steps_per_loop

    # -- what the monitored session uses ----------------------------------

    def run_step(
        self, step_fn: StepFn, feeds: Mapping[str, Any], num_steps: int = 1
    ) -> fetches_lib.StepOutputs:
        """Runs `num_steps` steps of `step_fn` in one compiled call.

        Args:
          step_fn: called as `step_fn(**feeds)`.
          feeds: keyword arguments; `tf.data` / distributed iterators are
            advanced inside the compiled step, Python iterators on the host.
          num_steps: steps to run in this call (1 unless a loop is allowed).

        Returns:
          The outputs of the last step.

        Raises:
          tf.errors.OutOfRangeError: an iterator ran out (the global step
            counts the steps that completed).
          StopIteration: a Python iterator feed ran out.
          ValueError: the step updates trainable variables the checkpoint
            does not reach (checked before its first call), or the last
            restore left variables without a value (checked after it).
        """
        self._check_open()
        prepared, host_fed = self._prepare_feeds(step_fn, feeds)
        inputs = self._checkpoints.inputs if self._checkpoints else None
        if inputs is not None:
            # checkpoint_input: iterators fed for the first time join the
            # checkpoint now (a restored position is applied to them).
            inputs.track(prepared)
        check_one_step_per_host_feed(host_fed, num_steps)
        single, loop = self._compiled_for(step_fn)
        try:
            function, args = self._step_call(single, loop, prepared, num_steps)
            with self._strategy.scope():
                if self._unsaved_check is not None:
                    self._unsaved_check.check_once(single, function, args)
                outputs, exposed, step_after = self._call(function, args)
        except Exception:
            self.resync_global_step()
            raise
        if inputs is not None:
            inputs.consumed(prepared, num_steps)
        # The step reports the global step it ended at (other sessions or
        # the step itself may move the variable too); read it only if asked.
        self._host_step = None
        self._step_after = step_after
        self._last_outputs = fetches_lib.StepOutputs(outputs, exposed)
        # Variables the first step built have their restored values now:
        # check the restore before any hook sees (or saves) this step.
        self.verify_restore()
        return self._last_outputs

    def _step_call(
        self,
        single: Callable[..., Any],
        loop: Callable[..., Any],
        prepared: dict[str, Any],
        num_steps: int,
    ) -> tuple[Callable[..., Any], tuple]:
        """The compiled function to call for `num_steps` steps, and its
        arguments (the feeds, the step count of a loop, the summary
        targets)."""
        targets = (
            self._summary_recorder.targets_tensor()
            if self._summary_recorder is not None
            else _no_summary_targets()
        )
        if num_steps == 1:
            return single, (prepared, targets)
        return loop, (prepared, tf.constant(num_steps, tf.int32), targets)

    def global_step_value(self) -> np.int64:
        """The global step after the last step (from the step's own output:
        no extra device read)."""
        if self._host_step is None and self._step_after is not None:
            self._host_step = int(self._step_after.numpy())
        return super().global_step_value()

    def resync_global_step(self) -> None:
        self._step_after = None
        super().resync_global_step()

    def close(self) -> None:
        """Releases the compiled steps; later runs raise RuntimeError."""
        super().close()
        self._compiled.clear()
        self._concrete.clear()

    # -- internals ---------------------------------------------------------

    def _prepare_feeds(
        self, step_fn: StepFn, feeds: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        for key in feeds:
            if not isinstance(key, str) or not key.isidentifier():
                raise TypeError(
                    _validation.invalid(
                        "feed_dict",
                        feeds,
                        f"keys naming the step function's keyword arguments "
                        f"(str), not {fetches_lib.describe(key)}: TF1 "
                        "placeholders have no TF2 meaning; pass the value as "
                        "an argument of the step function instead",
                    )
                )
        check_feeds_taken(step_fn, feeds)
        prepared: dict[str, Any] = {}
        host_fed = False
        for key, value in feeds.items():
            if isinstance(
                value, (tf.data.Dataset, tf.distribute.DistributedDataset)
            ):
                value = self._iterator_for(value)
            if is_host_iterator(value):
                value = next(value)
                host_fed = True
                value = tf.nest.map_structure(_as_tensor_if_plain, value)
            elif not is_graph_iterator(value):
                value = _as_tensor_if_plain(value)
            prepared[key] = value
        return prepared, host_fed

    def _iterator_for(self, dataset: Any) -> Any:
        """The session's iterator over a dataset fed as a value (made once)."""
        entry = self._dataset_iterators.get(id(dataset))
        if entry is None:
            with self._strategy.scope():
                entry = (dataset, iter(dataset))
            self._dataset_iterators[id(dataset)] = entry
        return entry[1]

    def _call(self, function: Any, args: tuple) -> Any:
        """Calls a compiled step, straight through its traced ConcreteFunction
        when every input is a tensor (the common case)."""
        flat = tf.nest.flatten(args, expand_composites=True)
        if not all(isinstance(leaf, tf.Tensor) for leaf in flat):
            return function(*args)
        key = (id(function), _signature(args))
        entry = self._concrete.get(key)
        if entry is None:
            # The entry keeps `function` and `args` alive: the key holds their
            # ids, which must not be reused by other objects while cached.
            entry = (function.get_concrete_function(*args), args, function)
            self._concrete[key] = entry
            if len(self._concrete) > _MAX_COMPILED_STEPS:
                del self._concrete[next(iter(self._concrete))]
        return _compat.call_concrete(entry[0], flat)

    def _compiled_for(
        self, step_fn: StepFn
    ) -> tuple[Callable[..., Any], Callable[..., Any]]:
        key = _compile_key(step_fn)
        entry = self._compiled.get(key)
        if entry is None:
            # The entry keeps `step_fn` (and so its closure) alive, so the
            # ids in its key cannot be reused by other objects.
            entry = (
                step_fn,
                compile_step(
                    step_fn,
                    strategy=self._strategy,
                    global_step=self._global_step,
                    advance_global_step=self._advance,
                    summary_recorder=self._summary_recorder,
                ),
            )
            self._compiled[key] = entry
            if len(self._compiled) > _MAX_COMPILED_STEPS:
                del self._compiled[next(iter(self._compiled))]
        return entry[1]
