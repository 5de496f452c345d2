"""What km's compiled step adds in the graph, feature by feature: the raw W1
step rebuilt with each of km's additions alone and all together, called
through their ConcreteFunctions (no Python dispatch) in interleaved rounds.

Part of `python -m benchmarks --profile` (`graph_costs` in profile.json).
The additions mirror `keras_monitored/_step_compiler.py` and
`_step_summaries.py`: the step body as a nested `tf.function` (the global
step moves only once every op of the step succeeded), the global step's
`assign_add` and read-back, and the `record_if` over the summary targets a
SummarySaverHook needs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any, Callable

import tensorflow as tf

from benchmarks import common, workloads

VARIANTS = (
    "raw",
    "global_step",
    "nested_body",
    "summary_record_if",
    "all_of_km",
    "raw_via_tf_function_call",
    "raw_again",
)


def _build(variant: str) -> Callable[[int], None]:
    training = workloads.training(workloads.WORKLOADS["W1"])
    step_fn = training.train_step
    global_step = tf.Variable(0, dtype=tf.int64)
    writer = tf.summary.create_file_writer(tempfile.mkdtemp())
    body = tf.function(lambda it: (step_fn(next(it)), tf.constant(True)))

    def with_summaries(iterator, targets):
        after = global_step + 1
        with (
            writer.as_default(step=after),
            tf.summary.record_if(tf.reduce_any(tf.equal(after, targets))),
        ):
            return step_fn(next(iterator))

    def step(iterator, targets):
        if variant in ("raw", "raw_again", "raw_via_tf_function_call"):
            return step_fn(next(iterator))
        if variant == "global_step":
            out = step_fn(next(iterator))
            with tf.control_dependencies([out["loss"]]):
                return out, tf.identity(global_step.assign_add(1))
        if variant == "nested_body":
            out, done = body(iterator)
            with tf.control_dependencies([done]):
                return tf.nest.map_structure(tf.identity, out)
        if variant == "summary_record_if":
            return with_summaries(iterator, targets)
        nested = tf.function(lambda it, t: (with_summaries(it, t), True))
        out, done = nested(iterator, targets)
        with tf.control_dependencies([done]):
            return out, tf.identity(global_step.assign_add(1))

    compiled = tf.function(step)
    targets = tf.constant([-1], tf.int64)
    iterator = training.iterator
    if variant == "raw_via_tf_function_call":
        compiled(iterator, targets)

        def run(steps: int) -> None:
            for _ in range(steps):
                compiled(iterator, targets)

        return run
    concrete = compiled.get_concrete_function(iterator, targets)
    flat = tf.nest.flatten((iterator, targets), expand_composites=True)
    captured = concrete.captured_inputs

    def run(steps: int) -> None:
        for _ in range(steps):
            concrete._call_flat(flat, captured)  # noqa: SLF001 (as km does)

    # The concrete function holds resource handles, not their owners: keep
    # the writer, model and iterator alive as long as `run`.
    run.keep = (compiled, writer, training)  # type: ignore[attr-defined]
    run(10)
    return run


def measure(steps: int, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of every variant.

    Returns:
      variant -> `{"median_us_per_step", "extra_us_vs_raw"}` (the median
      of per-round differences from `raw`).
    """
    runs = {variant: _build(variant) for variant in VARIANTS}
    for run in runs.values():
        run(steps)  # warm up
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_index in range(rounds):
        for variant in common.rotated(list(VARIANTS), round_index):
            began = time.perf_counter()
            runs[variant](steps)
            times[variant].append((time.perf_counter() - began) / steps * 1e6)
    return {
        variant: {
            "median_us_per_step": statistics.median(values),
            "extra_us_vs_raw": statistics.median(
                v - r for v, r in zip(values, times["raw"])
            ),
        }
        for variant, values in times.items()
    }
