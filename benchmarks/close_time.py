"""How long `close()` takes: fresh km sessions each round, closed after
training (the `close` suite). Closing runs the hooks' `end` (a
CheckpointSaverHook writes the final checkpoint and, with
`async_checkpoint=True`, waits for it) and releases the session."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Callable

from benchmarks import async_checkpoint, common, km_systems
from benchmarks.workloads import WORKLOADS

# Steps run before each close.
STEPS = 50


def _w1_session() -> float:
    system = km_systems.km_session(WORKLOADS["W1"], 1)
    system.run(STEPS)
    return system.close()


def _big_session(async_checkpoint_: bool) -> Callable[[], float]:
    def close_one() -> float:
        root = tempfile.mkdtemp(prefix="km_close_bench_")
        session, step, _, _ = async_checkpoint.make_session(
            os.path.join(root, "run"), async_checkpoint_, 10**6
        )
        for _ in range(STEPS):
            session.run(step)
        began = time.perf_counter()
        session.close()
        seconds = time.perf_counter() - began
        shutil.rmtree(root, ignore_errors=True)
        return seconds

    return close_one


# key -> (label, measure() -> seconds)
SESSIONS: dict[str, tuple[str, Callable[[], float]]] = {
    "w1_default_hooks": (
        "W1 session, TF1's default hooks + Logging + Nan (final save ~50 KB)",
        _w1_session,
    ),
    "big_sync": (
        "~33 MB checkpoint, synchronous final save",
        _big_session(False),
    ),
    "big_async": (
        "~33 MB checkpoint, async_checkpoint=True (close waits for it)",
        _big_session(True),
    ),
}


class CloseSuite:
    """Closes one fresh session of each kind per round (rotating order)."""

    name = "close"
    title = "close() time"

    def __init__(self, sessions: list[str] | None = None):
        self.keys = sessions or list(SESSIONS)
        self.seconds: dict[str, list[float]] = {k: [] for k in self.keys}

    def build(self) -> None:
        pass

    def run_round(self, round_index: int) -> None:
        for key in common.rotated(self.keys, round_index):
            self.seconds[key].append(SESSIONS[key][1]())

    def close(self) -> None:
        pass

    def result(self) -> dict[str, Any]:
        return {
            "suite": self.name,
            "title": self.title,
            "notes": (
                f"Each round builds a fresh session, runs {STEPS} steps and "
                "times `close()`."
            ),
            "systems": {
                key: {
                    "label": SESSIONS[key][0],
                    "seconds": values,
                    "median_seconds": statistics.median(values),
                    "max_seconds": max(values),
                }
                for key, values in self.seconds.items()
            },
            "ratios": {},
        }
