"""The performance targets (data) and how each is judged from a run's
results: met or missed, with the measured median ratio and its range."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Target:
    """One target.

    Attributes:
      key: a short id.
      text: the target as the docs state it.
      suite: the results it is judged from.
      ratio: the ratio's key in that suite's `ratios` (or, for `close`, a
        system whose max seconds is judged).
      bound: the limit.
      at_least: True if the value must be >= bound, False if <= (or <).
      rule: "median" (the median of per-round ratios), "every round" (the
        worst round), or "max" (the largest value seen).
    """

    key: str
    text: str
    suite: str
    ratio: str
    bound: float
    at_least: bool
    rule: str = "median"


TARGETS: list[Target] = [
    Target(
        "spl1_vs_raw_W1",
        "km steps_per_loop=1 ≥ 1.0× the raw per-step loop's rate on W1, "
        "every round",
        "throughput_W1",
        "km_spl1/raw_step",
        1.0,
        True,
        "every round",
    ),
    Target(
        "spl100_vs_loop_W1",
        "km steps_per_loop=100 (hooks on) ≥ 0.95× the in-graph loop's rate "
        "on W1",
        "throughput_W1",
        "km_spl100/raw_loop",
        0.95,
        True,
    ),
    Target(
        "hookcb_vs_bare",
        "HookCallback ≤ 1.02× the time of a bare callback (fit, "
        "steps_per_execution=1, W1)",
        "throughput_W1",
        "hookcb_spe1/fit_spe1",
        1.02,
        False,
    ),
]
for _w in ("W2", "W3"):
    TARGETS += [
        Target(
            f"spl1_vs_raw_{_w}",
            f"km steps_per_loop=1 within 3% of the raw per-step loop on {_w}",
            f"throughput_{_w}",
            "km_spl1/raw_step",
            0.97,
            True,
        ),
        Target(
            f"spl100_vs_loop_{_w}",
            f"km steps_per_loop=100 within 3% of the in-graph loop on {_w}",
            f"throughput_{_w}",
            "km_spl100/raw_loop",
            0.97,
            True,
        ),
    ]
TARGETS += [
    Target(
        "async_blocked",
        "an async save blocks training ≤ 10% of a synchronous save's time",
        "checkpoint",
        "async/sync",
        0.10,
        False,
    ),
    Target(
        "close_w1",
        "close() < 1 s (W1 session, default hooks; slowest round)",
        "close",
        "w1_default_hooks",
        1.0,
        False,
        "max",
    ),
    Target(
        "close_async",
        "close() < 1 s (33 MB checkpoint, async; slowest round)",
        "close",
        "big_async",
        1.0,
        False,
        "max",
    ),
    Target(
        "rss_spl1",
        "peak RSS of km (steps_per_loop=1) ≤ 1.05× the raw loop's",
        "rss",
        "km_spl1/raw_step",
        1.05,
        False,
    ),
]


def _value(target: Target, suite: dict[str, Any]) -> dict[str, float] | None:
    if target.rule == "max":
        system = suite["systems"].get(target.ratio)
        if system is None:
            return None
        seconds = system["seconds"]
        return {
            "value": max(seconds),
            "median": sorted(seconds)[len(seconds) // 2],
            "min": min(seconds),
            "max": max(seconds),
        }
    ratio = suite["ratios"].get(target.ratio)
    if ratio is None:
        return None
    worst = ratio["min"] if target.at_least else ratio["max"]
    value = worst if target.rule == "every round" else ratio["median"]
    return {
        "value": value,
        "median": ratio["median"],
        "min": ratio["min"],
        "max": ratio["max"],
    }


def evaluate(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Judges every target whose suite ran.

    Args:
      results: suite name -> that suite's result.

    Returns:
      One dict per target: its fields, the measured values, and `met`.
    """
    judged = []
    for target in TARGETS:
        suite = results.get(target.suite)
        measured = _value(target, suite) if suite else None
        if measured is None:
            continue
        value = measured["value"]
        if target.at_least:
            met = value >= target.bound
        elif target.rule == "max":
            met = value < target.bound
        else:
            met = value <= target.bound
        judged.append(dataclasses.asdict(target) | measured | {"met": met})
    return judged
