"""Shared helpers for side-by-side benchmarks: interleaved repeats, medians,
ratios, and one JSON result file per benchmark under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Callable

import tensorflow as tf

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def timed(function: Callable[[], object]) -> float:
    """Seconds one call of `function` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(
    candidates: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[float]]:
    """Runs every candidate once per round, `repeats` rounds, so drift in the
    machine's speed hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            times[name].append(timed(function))
    return times


def report(
    name: str,
    times: dict[str, list[float]],
    baseline: str,
    units: dict[str, float],
    target: str,
) -> dict:
    """Prints a table and writes `results/<name>.json`.

    Args:
      name: the benchmark's name.
      times: seconds per repeat, per candidate.
      baseline: the candidate the ratios are relative to.
      units: work units (steps) per repeat, per candidate, for rates.
      target: the target, as text.
    """
    medians = {k: statistics.median(v) for k, v in times.items()}
    rows = {
        k: {
            "median_seconds": medians[k],
            "units_per_second": units[k] / medians[k],
            "time_ratio_to_baseline": medians[k] / medians[baseline],
            "rate_ratio_to_baseline": (units[k] / medians[k])
            / (units[baseline] / medians[baseline]),
            "seconds": v,
        }
        for k, v in times.items()
    }
    result = {
        "benchmark": name,
        "baseline": baseline,
        "target": target,
        "results": rows,
        "machine": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "cpus": os.cpu_count(),
        },
    }
    print(f"\n{name}  (target: {target})")
    print(
        f"{'candidate':<34}{'median s':>10}{'steps/s':>12}{'rate vs ' + baseline:>22}"
    )
    for k, row in rows.items():
        print(
            f"{k:<34}{row['median_seconds']:>10.4f}{row['units_per_second']:>12.1f}{row['rate_ratio_to_baseline']:>22.3f}"
        )
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    return result
