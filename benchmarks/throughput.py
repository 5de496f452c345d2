"""Steps per second of every system on one workload, side by side: raw
loops, Keras `fit`, TF1's graph-mode session, km's session and
`km.HookCallback` (the `throughput_W1`, `_W2`, `_W3` suites)."""

from __future__ import annotations

import os
from typing import Any, Callable

from benchmarks import baselines, km_systems, workers
from benchmarks.baselines import LOOP
from benchmarks.suite import Comparison, Entry, TimedSuite, timed_system
from benchmarks.workloads import WORKLOADS, Workload

# key -> (label, factory) of the in-process systems.
IN_PROCESS: dict[str, tuple[str, Callable[[Workload], Any]]] = {
    "raw_step": ("raw tf.function, 1 call per step", baselines.raw_per_step),
    "raw_loop": (
        f"raw in-graph loop, {LOOP} steps per call",
        baselines.raw_in_graph,
    ),
    "fit_spe1": (
        "Keras fit, steps_per_execution=1, bare callback",
        lambda w: baselines.keras_fit(w, 1),
    ),
    "fit_spe100": (
        f"Keras fit, steps_per_execution={LOOP}, bare callback",
        lambda w: baselines.keras_fit(w, LOOP),
    ),
    "hookcb_spe1": (
        "Keras fit, steps_per_execution=1, km.HookCallback",
        lambda w: km_systems.hook_callback_fit(w, 1),
    ),
    "hookcb_spe100": (
        f"Keras fit, steps_per_execution={LOOP}, km.HookCallback",
        lambda w: km_systems.hook_callback_fit(w, LOOP),
    ),
    "km_spl1": (
        "km MonitoredTrainingSession, steps_per_loop=1",
        lambda w: km_systems.km_session(w, 1),
    ),
    "km_spl100": (
        f"km MonitoredTrainingSession, steps_per_loop={LOOP}",
        lambda w: km_systems.km_session(w, LOOP),
    ),
}
TF1 = "tf1_mts"
TF1_LABEL = "TF1 MonitoredTrainingSession (graph mode, own process)"

COMPARISONS = [
    Comparison("km_spl1", "raw_step"),
    Comparison("km_spl100", "raw_loop"),
    Comparison("hookcb_spe1", "fit_spe1", kind="time"),
    Comparison("hookcb_spe100", "fit_spe100", kind="time"),
    Comparison("fit_spe1", "raw_step"),
    Comparison("fit_spe100", "raw_loop"),
    Comparison(TF1, "raw_step"),
    Comparison("km_spl1", TF1),
    Comparison("raw_loop", "raw_step"),
]


def _tf1_worker(workload: str, log_dir: str):
    worker = workers.Worker(
        "tf1_session",
        ["--workload", workload],
        os.path.join(log_dir, f"tf1_session_{workload}.log"),
    )

    def measure(steps: int) -> float:
        return worker.measure(steps)["seconds"]

    def close() -> None:
        worker.close()

    return measure, close


def suite(
    workload_name: str,
    steps: int,
    systems: list[str] | None = None,
    tf1: bool = True,
    log_dir: str = ".",
) -> TimedSuite:
    """The throughput suite of one workload.

    Args:
      workload_name: "W1", "W2" or "W3".
      steps: steps per system per round (rounded down to a multiple of
        LOOP, at least LOOP).
      systems: keys of `IN_PROCESS` to run (default: all).
      tf1: also run TF1's graph-mode session (in a worker process).
      log_dir: where worker processes' stderr goes.
    """
    workload = WORKLOADS[workload_name]
    steps = max(LOOP, steps - steps % LOOP)
    entries = {}
    for key in systems or list(IN_PROCESS):
        label, factory = IN_PROCESS[key]
        entries[key] = Entry(
            label,
            lambda factory=factory: timed_system(factory(workload)),
            steps,
        )
    if tf1:
        entries[TF1] = Entry(
            TF1_LABEL, lambda: _tf1_worker(workload_name, log_dir), steps
        )
    return TimedSuite(
        f"throughput_{workload_name}",
        f"Throughput, {workload_name}: {workload.description}",
        entries,
        COMPARISONS,
        notes=(
            "km's session and TF1's run TF1's default hooks (checkpoint_dir "
            "set: StepCounterHook and SummarySaverHook every 100 steps, "
            "CheckpointSaverHook every 600 s) plus LoggingTensorHook (every "
            "100) and NanTensorHook. HookCallback runs LoggingTensorHook, "
            "NanTensorHook and StopAtStepHook; the bare callback does the "
            "same work by hand."
        ),
    )
