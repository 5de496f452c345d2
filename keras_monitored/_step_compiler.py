"""Compiling a step function: the one-step and the multi-step
`tf.function`s a `StepSession` calls.

One step: advance graph iterators among the feeds, run the step per replica
(`strategy.run`, with the step's `tf.summary` calls recorded on chosen
steps), reduce per-replica outputs (floating ones averaged over every
replica, other workers' too), then advance the global step -- only once
every stateful op of the step has succeeded. A loop of N steps runs that in
a `tf.while_loop` and returns the last step's outputs.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation, exposed_tensors
from keras_monitored._step_summaries import (
    StepSummaryRecorder,
    summary_step_after,
)


def is_graph_iterator(value: Any) -> bool:
    """True for iterators that are advanced inside the compiled step."""
    return isinstance(
        value, (tf.data.Iterator, tf.distribute.DistributedIterator)
    )


def spans_workers(strategy: tf.distribute.Strategy) -> bool:
    """True when some of the strategy's replicas run in other processes
    (MultiWorkerMirroredStrategy with more than one worker, a TPU pod)."""
    try:
        local = len(strategy.extended.worker_devices)
    except (AttributeError, NotImplementedError, RuntimeError):
        return False  # the default strategy: one replica, here
    return strategy.num_replicas_in_sync > local


def _is_floating_tensor(value: Any) -> bool:
    return isinstance(value, tf.Tensor) and value.dtype.is_floating


def _average_across_workers(value: Any) -> Any:
    """In replica context: every floating tensor of `value` replaced by its
    mean over all replicas of every worker (one batched all-reduce per
    dtype, in the order the dtypes first appear: the same on every worker,
    which traces the same step)."""
    flat = tf.nest.flatten(value)
    by_dtype: dict[tf.DType, list[int]] = {}
    for position, leaf in enumerate(flat):
        if _is_floating_tensor(leaf):
            by_dtype.setdefault(leaf.dtype, []).append(position)
    context = tf.distribute.get_replica_context()
    for positions in by_dtype.values():
        averaged = context.all_reduce(
            tf.distribute.ReduceOp.MEAN, [flat[i] for i in positions]
        )
        for position, leaf in zip(positions, averaged):
            flat[position] = leaf
    return tf.nest.pack_sequence_as(value, flat)


def _reduce_replicas(
    strategy: tf.distribute.Strategy, value: Any, averaged: bool = False
) -> Any:
    """Averages floating per-replica values; takes the first replica's others.

    Args:
      strategy: the strategy the values come from.
      value: `strategy.run`'s result.
      averaged: the replicas averaged their floating values already
        (`_average_across_workers`): take the first replica's of all.
    """

    def reduce(leaf):
        if not isinstance(leaf, tf.distribute.DistributedValues):
            return leaf
        local = strategy.experimental_local_results(leaf)
        if not averaged and local and _is_floating_tensor(local[0]):
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, leaf, axis=None)
        return local[0]

    return tf.nest.map_structure(reduce, value)


_PLAIN_VALUES = (bool, int, float, complex, str, bytes, np.generic, np.ndarray)


@tf.autograph.experimental.do_not_convert
def _check_outputs(step_fn: Callable[..., Any], outputs: Any) -> None:
    """Refuses a step output `tf.function` cannot return, naming the step
    function, the output and its value (TF's own error names neither)."""

    def check(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                check(f"{path}[{key!r}]", item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                check(f"{path}[{index}]", item)
        elif not (
            value is None
            or isinstance(value, _PLAIN_VALUES)
            or tf.is_tensor(value)
            or _compat.is_variable(value)
        ):
            name = getattr(step_fn, "__qualname__", repr(step_fn))
            raise TypeError(
                f"The step function {name} returned output "
                f"{path or ''}={value!r} of type {type(value).__name__}, "
                "which is no tensor: a step returns tensors (or numbers, "
                "strings, None), alone or in a dict, list or tuple."
            )

    check("", outputs)


# The keyword arguments of step functions seen (None: any), by function:
# inspect.signature costs tens of microseconds, a step a few hundred.
_KEYWORD_NAMES: "weakref.WeakKeyDictionary[Any, frozenset | None]" = (
    weakref.WeakKeyDictionary()
)


def _keyword_names(step_fn: Callable[..., Any]) -> frozenset | None:
    """The names `step_fn` takes as keyword arguments; None when it takes
    any (`**kwargs`) or has no signature to check against."""
    try:
        return _KEYWORD_NAMES[step_fn]
    except (KeyError, TypeError):
        pass
    try:
        parameters = inspect.signature(step_fn).parameters.values()
    except (TypeError, ValueError):
        names = None  # the call itself will tell
    else:
        names = (
            None
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
            else frozenset(
                p.name
                for p in parameters
                if p.kind is not inspect.Parameter.POSITIONAL_ONLY
            )
        )
    try:
        _KEYWORD_NAMES[step_fn] = names
    except TypeError:
        pass  # not weakly referenceable: checked every time
    return names


def check_feeds_taken(
    step_fn: Callable[..., Any], feeds: Mapping[str, Any]
) -> None:
    """Refuses feeds the step function has no keyword argument for (TF's
    own error is a trace error that names neither the feed nor its source).

    Raises:
      TypeError: a key that is not a keyword argument of `step_fn`.
    """
    if not feeds:
        return
    names = _keyword_names(step_fn)
    if names is None:
        return
    unknown = sorted(map(repr, set(feeds) - names))
    if unknown:
        step_name = getattr(step_fn, "__qualname__", repr(step_fn))
        raise TypeError(
            _validation.invalid(
                "feed_dict",
                feeds,
                "keys that are keyword arguments of the step function "
                f"{step_name}{inspect.signature(step_fn)}; "
                f"{', '.join(unknown)} is not",
            )
        )


def compile_step(
    step_fn: Callable[..., Any],
    *,
    strategy: tf.distribute.Strategy,
    global_step: Any,
    advance_global_step: bool,
    summary_recorder: StepSummaryRecorder | None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Compiles `step_fn` into a one-step and a multi-step `tf.function`.

    Both take `(feeds, [num_steps,] summary_targets)` and return
    `(outputs, exposed, step_after)`: the step's outputs (per-replica values
    reduced), the tensors it `km.expose`d, and the global step after it.

    Args:
      step_fn: called as `step_fn(**feeds)` per replica; graph iterators
        among the feeds are advanced first.
      strategy: the strategy replicas run under.
      global_step: the global step variable.
      advance_global_step: add one per completed step (else the step
        advances it itself and it is only read).
      summary_recorder: records the step's `tf.summary` calls, or None.
    """
    advanced = global_step if advance_global_step else None
    # With replicas in other processes, `strategy.run` returns a worker's
    # own replicas' values only (a plain tensor with one local replica):
    # average floating outputs over all replicas inside the step, where
    # every worker runs the same all-reduce in the same place. Within one
    # process, `strategy.reduce` averages them (no collective for that).
    across_workers = spans_workers(strategy)

    def replica_step(feeds):
        with exposed_tensors.collecting() as exposed:
            outputs = step_fn(**feeds)
        _check_outputs(step_fn, outputs)
        if isinstance(outputs, Mapping):
            clashes = sorted(set(map(str, outputs)) & set(exposed))
            if clashes:
                raise ValueError(
                    f"km.expose names {clashes} are also outputs returned by "
                    "the step function; use different names."
                )
        if across_workers:
            return _average_across_workers((outputs, dict(exposed)))
        return outputs, dict(exposed)

    def step_body(feeds, summary_targets):
        feeds = {
            key: (next(value) if is_graph_iterator(value) else value)
            for key, value in feeds.items()
        }
        if summary_recorder is None:
            outputs, exposed = strategy.run(replica_step, args=(feeds,))
        else:
            summary_step = summary_step_after(global_step)
            with summary_recorder.recording(summary_step, summary_targets):
                outputs, exposed = strategy.run(replica_step, args=(feeds,))
        return (
            _reduce_replicas(strategy, outputs, across_workers),
            _reduce_replicas(strategy, exposed, across_workers),
            tf.constant(True),
        )

    # The body is a nested function: its outputs (even the constant
    # `done`) exist only once every stateful op in it -- iterator reads,
    # asserts, updates -- has succeeded, so the global step never advances
    # for a step that failed. Control dependencies on plain output tensors
    # do not give that guarantee.
    compiled_body = tf.function(
        step_body, reduce_retracing=True, autograph=True
    )

    step_reader = _compat.as_tf_variable(global_step)

    def one_step(feeds, summary_targets):
        outputs, exposed, done = compiled_body(feeds, summary_targets)
        with tf.control_dependencies([done]):
            if advanced is not None:
                step_after = advanced.assign_add(1)
            else:
                step_after = tf.cast(step_reader.read_value(), tf.int64)
        return outputs, exposed, tf.identity(step_after)

    def loop(feeds, num_steps, summary_targets):
        first = one_step(feeds, summary_targets)
        # Only tensors can be loop variables: carry those, and keep the
        # rest of the outputs (None, Python values) from the first step.
        flat = tf.nest.flatten(first)
        carried = [
            i for i, leaf in enumerate(flat) if isinstance(leaf, tf.Tensor)
        ]

        def body(index, _):
            step_flat = tf.nest.flatten(one_step(feeds, summary_targets))
            return index + 1, [step_flat[i] for i in carried]

        _, last = tf.while_loop(
            lambda index, _: index < num_steps,
            body,
            (tf.constant(1, tf.int32), [flat[i] for i in carried]),
            parallel_iterations=1,
        )
        for position, leaf in zip(carried, last):
            flat[position] = leaf
        return tf.nest.pack_sequence_as(first, flat)

    name = getattr(step_fn, "__name__", "step")
    single = tf.function(one_step, reduce_retracing=True, autograph=False)
    looped = tf.function(loop, reduce_retracing=True, autograph=False)
    logging.info("Compiling step function %s with tf.function.", name)
    return single, looped
