"""Shared helpers for side-by-side benchmarks: interleaved repeats, medians,
per-round ratios, machine facts, and JSON results under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

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
    import tensorflow as tf  # Imported here: peak_rss's launcher stays small.

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


def machine_facts() -> dict:
    """Facts about this machine and software that a reader of the results
    needs: cores, Python/TF/Keras versions, the load average now."""
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg": list(os.getloadavg()),
    }


def rotated(items: list, round_index: int) -> list:
    """`items` rotated left by `round_index`: round r starts with a
    different system, so none always runs first (or last)."""
    if not items:
        return []
    shift = round_index % len(items)
    return items[shift:] + items[:shift]


def ratio_stats(ratios: list[float]) -> dict:
    """The median, min and max of per-round ratios (and the ratios)."""
    return {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "per_round": ratios,
    }


def progress(message: str) -> None:
    """One progress line on stderr (the terminal, not the measurements:
    absl logging stays at WARNING so hooks' log lines cost no I/O)."""
    print(
        f"[benchmarks {time.strftime('%H:%M:%S')}] {message}",
        file=sys.stderr,
        flush=True,
    )
