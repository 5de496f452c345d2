"""What each standard hook costs alone: km's session at steps_per_loop=1 on
W1 with one hook, triggering every step and every 100 steps, against the
same session with no hook at all (the `hooks` suite).

FeedFnHook is left out (it feeds a step argument W1's step does not
take); FinalOpsHook and GlobalStepWaiterHook act only at the start or the
end, so their per-step cost is the hook list's dispatch alone.
"""

from __future__ import annotations

import io
import statistics
from typing import Any, Callable

import tensorflow as tf

import keras_monitored as km
from benchmarks import km_systems
from benchmarks.suite import Comparison, Entry, TimedSuite, timed_system
from benchmarks.workloads import WORKLOADS

BASE = "no_hook"
# Saving or profiling every step is slow: those variants run fewer steps.
SLOW_SHARE = {"CheckpointSaverHook@1": 4, "ProfilerHook@1": 20}


def _checkpoint_saver(every: int) -> Callable[[Any, str], list[Any]]:
    def hooks(training: Any, directory: str) -> list[Any]:
        return [
            km.hooks.CheckpointSaverHook(
                directory,
                save_steps=every,
                saver=tf.train.Checkpoint(
                    model=training.model, optimizer=training.optimizer
                ),
            )
        ]

    return hooks


# name@every -> hooks(training, scratch directory) for the variants.
VARIANTS: dict[str, Callable[[Any, str], list[Any]]] = {
    "StopAtStepHook@1": lambda t, directory: [
        km.hooks.StopAtStepHook(last_step=10**12)
    ],
    "NanTensorHook@1": lambda t, directory: [km.hooks.NanTensorHook("loss")],
    "FinalOpsHook@end": lambda t, directory: [km.hooks.FinalOpsHook("loss")],
    "GlobalStepWaiterHook@begin": lambda t, directory: [
        km.hooks.GlobalStepWaiterHook(0)
    ],
    "LoggingTensorHook@1": lambda t, directory: [
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=1)
    ],
    "LoggingTensorHook@100": lambda t, directory: [
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=100)
    ],
    "StepCounterHook@1": lambda t, directory: [
        km.hooks.StepCounterHook(every_n_steps=1, output_dir=directory)
    ],
    "StepCounterHook@100": lambda t, directory: [
        km.hooks.StepCounterHook(every_n_steps=100, output_dir=directory)
    ],
    "SummarySaverHook@1": lambda t, directory: [
        km.hooks.SummarySaverHook(
            save_steps=1, output_dir=directory, summary_op="loss"
        )
    ],
    "SummarySaverHook@100": lambda t, directory: [
        km.hooks.SummarySaverHook(
            save_steps=100, output_dir=directory, summary_op="loss"
        )
    ],
    "CheckpointSaverHook@1": _checkpoint_saver(1),
    "CheckpointSaverHook@100": _checkpoint_saver(100),
    "ProgressBarHook@1": lambda t, directory: [
        km.hooks.ProgressBarHook(
            tensors={"loss": "loss"},
            every_n_secs=1e-9,
            stream=io.StringIO(),
        )
    ],
    "ProgressBarHook@0.5s": lambda t, directory: [
        km.hooks.ProgressBarHook(
            tensors={"loss": "loss"}, every_n_secs=0.5, stream=io.StringIO()
        )
    ],
    "ProfilerHook@1": lambda t, directory: [
        km.hooks.ProfilerHook(save_steps=1, output_dir=directory)
    ],
    "ProfilerHook@100": lambda t, directory: [
        km.hooks.ProfilerHook(save_steps=100, output_dir=directory)
    ],
}


def _entry(
    name: str, hooks: Callable[[Any, str], list[Any]] | None, steps: int
):
    workload = WORKLOADS["W1"]

    def factory():
        return timed_system(
            km_systems.km_session(
                workload,
                1,
                hooks=hooks,
                default_hooks=False,
                name=name,
            )
        )

    return Entry(name, factory, steps)


def suite(steps: int, variants: list[str] | None = None) -> TimedSuite:
    """The per-hook suite.

    Args:
      steps: steps per system per round (the slow variants run a share).
      variants: keys of `VARIANTS` to run (default: all).
    """
    entries = {BASE: _entry("km session, no hook", None, steps)}
    for name in variants or list(VARIANTS):
        share = SLOW_SHARE.get(name, 1)
        entries[name] = _entry(
            name.replace("@", " every "), VARIANTS[name], max(1, steps // share)
        )
    return TimedSuite(
        "hooks",
        "Per-hook overhead: km session, steps_per_loop=1, W1, one hook",
        entries,
        [
            Comparison(name, BASE, kind="time")
            for name in entries
            if name != BASE
        ],
        notes=(
            "`@1`: the hook triggers every step; `@100`: every 100 steps; "
            "`@end`/`@begin`: it acts only at the end/start. Overhead is the "
            "hook's median time per step minus the no-hook session's, from "
            "the same round."
        ),
    )


def overhead_us(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per variant: the median over rounds of (its µs per step minus the
    no-hook session's), with min and max."""
    systems = result["systems"]

    def per_step(key: str) -> list[float]:
        info = systems[key]
        return [s / info["steps_per_round"] * 1e6 for s in info["seconds"]]

    base = per_step(BASE)
    out = {}
    for key in systems:
        if key == BASE:
            continue
        extra = [h - b for h, b in zip(per_step(key), base)]
        out[key] = {
            "median": statistics.median(extra),
            "min": min(extra),
            "max": max(extra),
        }
    return out
