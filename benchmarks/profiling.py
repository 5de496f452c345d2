"""Where a system's per-step time goes: cProfile over `run(steps)`, reduced
to per-step microseconds for the functions that cost most.

    python -m benchmarks --profile [--out DIR]

profiles the systems behind the targets (km's session at steps_per_loop 1
on W1 and each of its hook configurations, `km.HookCallback` in fit, and
their raw baselines) and writes `profile.json` beside the results; the docs
page summarises it. cProfile slows Python code down several-fold but not
the TensorFlow kernels, so read its numbers as shares, not as timings.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from typing import Any, Callable

from benchmarks import baselines, km_systems
from benchmarks.baselines import System
from benchmarks.workloads import WORKLOADS

# How many functions each profile keeps.
TOP = 25
# The outer layers of a session's run: every step passes through them.
_DRIVER = (
    "keras_monitored/monitored_session.py:104",
    "keras_monitored/monitored_session.py:251",
    "keras_monitored/_recovery.py",
    "keras_monitored/monitored_session.py:131",
)


def _where(key: tuple[str, int, str]) -> str:
    """`package/module.py:line(function)`, shortened to the package path."""
    filename, line, function = key
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("keras_monitored", "benchmarks", "keras", "tensorflow"):
        if anchor in parts:
            filename = "/".join(
                parts[len(parts) - parts[::-1].index(anchor) - 1 :]
            )
            break
    else:
        filename = parts[-1]
    return f"{filename}:{line}({function})"


def _is_km(filename: str) -> bool:
    return "keras_monitored" in filename.replace(os.sep, "/").split("/")


def profile_run(system: System, steps: int) -> dict[str, Any]:
    """Profiles `system.run(steps)` (after an unprofiled warm-up run).

    Returns:
      `{"steps", "wall_us_per_step", "profiled_us_per_step",
      "km_own_us_per_step", "top_tottime", "top_cumtime",
      "top_km_cumtime"}` (the last: keras_monitored's functions only, by
      cumulative time); the lists hold
      `{"function", "us_per_step", "calls_per_step"}` rows.
    """
    system.run(steps)
    began = time.perf_counter()
    system.run(steps)
    wall = time.perf_counter() - began
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(system.run, steps)
    profiled = time.perf_counter() - began
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def rows(index: int, km_only: bool = False) -> list[dict[str, Any]]:
        items = [kv for kv in stats.items() if not km_only or _is_km(kv[0][0])]
        ordered = sorted(items, key=lambda kv: -kv[1][index])
        return [
            {
                "function": _where(key),
                "us_per_step": round(value[index] / steps * 1e6, 2),
                "calls_per_step": round(value[1] / steps, 2),
            }
            for key, value in ordered[:TOP]
        ]

    km_own = sum(value[2] for key, value in stats.items() if _is_km(key[0]))
    return {
        "steps": steps,
        "wall_us_per_step": round(wall / steps * 1e6, 2),
        "profiled_us_per_step": round(profiled / steps * 1e6, 2),
        "km_own_us_per_step": round(km_own / steps * 1e6, 2),
        "top_tottime": rows(2),
        "top_cumtime": rows(3),
        "top_km_cumtime": rows(3, km_only=True),
    }


def _profiled_systems() -> dict[str, Callable[[], System]]:
    w1 = WORKLOADS["W1"]
    return {
        "W1/raw_step": lambda: baselines.raw_per_step(w1),
        "W1/km_spl1": lambda: km_systems.km_session(w1, 1),
        "W1/km_spl1_no_hooks": lambda: km_systems.km_session(
            w1, 1, hooks=None, default_hooks=False, name="km_spl1_no_hooks"
        ),
        "W1/raw_loop": lambda: baselines.raw_in_graph(w1),
        "W1/km_spl100": lambda: km_systems.km_session(w1, baselines.LOOP),
        "W1/fit_spe1": lambda: baselines.keras_fit(w1, 1),
        "W1/hookcb_spe1": lambda: km_systems.hook_callback_fit(w1, 1),
    }


def profile_all(steps: int) -> dict[str, Any]:
    """Profiles every system behind a target; returns name -> profile."""
    results = {}
    for name, factory in _profiled_systems().items():
        system = factory()
        granular = max(system.granularity, steps - steps % system.granularity)
        results[name] = profile_run(system, granular)
        system.close()
    return results


def summary_lines(profiles: dict[str, Any], top: int = 5) -> list[str]:
    """Markdown bullet lines: each profile's time per step, km's own share,
    its costliest functions by own time and km's by cumulative time."""
    lines = []
    for name, profile in profiles.items():
        costly = ", ".join(
            f"`{row['function']}` {row['us_per_step']:.0f}"
            for row in profile["top_tottime"][:top]
        )
        line = (
            f"- **{name}**: {profile['wall_us_per_step']:.0f} µs/step "
            f"unprofiled, {profile['profiled_us_per_step']:.0f} profiled, "
            f"of which keras_monitored's own code "
            f"{profile['km_own_us_per_step']:.0f}. Own time (µs/step): "
            f"{costly}."
        )
        km_rows = [
            row
            for row in profile.get("top_km_cumtime", [])
            if not row["function"].startswith(_DRIVER)
        ][: top + 3]
        if profile["km_own_us_per_step"] > 1 and km_rows:
            line += (
                " keras_monitored by cumulative time (µs/step): "
                + (
                    ", ".join(
                        f"`{row['function']}` {row['us_per_step']:.0f}"
                        for row in km_rows
                    )
                )
                + "."
            )
        lines.append(line)
    return lines
