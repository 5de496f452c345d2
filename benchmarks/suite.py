"""What the runner drives: a `Suite` measures some systems once per round;
`TimedSuite` is the common kind, timing `run(steps)` of each system in a
rotating order and reporting per-round ratios against baselines."""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any, Callable, Protocol

from benchmarks import common


class Suite(Protocol):
    """One benchmark of the run (`throughput_W1`, `hooks`, ...).

    The runner calls `build()` once, `run_round(r)` once per round (every
    suite in round r before any in round r + 1), `close()`, then
    `result()` for the JSON file `results/<name>.json`.
    """

    name: str
    title: str

    def build(self) -> None: ...

    def run_round(self, round_index: int) -> None: ...

    def close(self) -> None: ...

    def result(self) -> dict[str, Any]: ...


@dataclasses.dataclass
class Entry:
    """A system of a `TimedSuite`.

    Attributes:
      label: how the docs name it.
      factory: builds it: returns a `measure(steps) -> seconds` callable
        and a `close() -> seconds | None` callable.
      steps: steps per round (a multiple of the system's granularity).
    """

    label: str
    factory: Callable[[], tuple[Callable[[int], float], Callable[[], Any]]]
    steps: int


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A ratio the suite reports: `system` against `baseline`.

    Attributes:
      system: the system's key.
      baseline: the baseline's key.
      kind: "rate" (baseline time per step / system time per step: > 1 is
        faster) or "time" (system / baseline: > 1 is slower).
    """

    system: str
    baseline: str
    kind: str = "rate"


def timed_system(system: Any) -> tuple[Callable[[int], float], Callable]:
    """Adapts an in-process `System` to a `TimedSuite` entry."""

    def measure(steps: int) -> float:
        began = time.perf_counter()
        system.run(steps)
        return time.perf_counter() - began

    return measure, system.close


class TimedSuite:
    """Times each system's `steps` steps once per round, in a rotating
    order, and reports seconds per step and per-round ratios.

    Args:
      name: the suite's name (its results file).
      title: a heading for the docs.
      entries: key -> `Entry`, in the docs' order.
      comparisons: the ratios to report.
      notes: free text for the docs.
    """

    def __init__(
        self,
        name: str,
        title: str,
        entries: dict[str, Entry],
        comparisons: list[Comparison],
        notes: str = "",
    ):
        self.name = name
        self.title = title
        self.entries = entries
        self.comparisons = comparisons
        self.notes = notes
        self._measure: dict[str, Callable[[int], float]] = {}
        self._close: dict[str, Callable[[], Any]] = {}
        self.seconds: dict[str, list[float]] = {k: [] for k in entries}
        self.close_seconds: dict[str, float] = {}

    def build(self) -> None:
        """Builds every system and runs it once, unrecorded: the first
        steps after a compile run slower (Python's and TF's caches warm up,
        the garbage of tracing is collected)."""
        for key, entry in self.entries.items():
            began = time.perf_counter()
            self._measure[key], self._close[key] = entry.factory()
            self._measure[key](entry.steps)
            common.progress(
                f"{self.name}: built and warmed up {key} in "
                f"{time.perf_counter() - began:.1f} s"
            )

    def run_round(self, round_index: int) -> None:
        for key in common.rotated(list(self.entries), round_index):
            steps = self.entries[key].steps
            self.seconds[key].append(self._measure[key](steps))

    def close(self) -> None:
        for key, close in self._close.items():
            seconds = close()
            if seconds is not None:
                self.close_seconds[key] = seconds

    def per_step(self, key: str) -> list[float]:
        """Seconds per step of `key`, one per round."""
        steps = self.entries[key].steps
        return [s / steps for s in self.seconds[key]]

    def ratios(self, comparison: Comparison) -> list[float]:
        """The per-round ratios of one comparison."""
        system = self.per_step(comparison.system)
        baseline = self.per_step(comparison.baseline)
        if comparison.kind == "rate":
            return [b / s for s, b in zip(system, baseline)]
        return [s / b for s, b in zip(system, baseline)]

    def result(self) -> dict[str, Any]:
        systems = {}
        for key, entry in self.entries.items():
            per_step = self.per_step(key)
            median = statistics.median(per_step)
            systems[key] = {
                "label": entry.label,
                "steps_per_round": entry.steps,
                "seconds": self.seconds[key],
                "median_us_per_step": median * 1e6,
                "median_steps_per_second": 1 / median,
            }
            if key in self.close_seconds:
                systems[key]["close_seconds"] = self.close_seconds[key]
        ratios = {
            f"{c.system}/{c.baseline}": {
                "system": c.system,
                "baseline": c.baseline,
                "kind": c.kind,
            }
            | common.ratio_stats(self.ratios(c))
            for c in self.comparisons
            if c.system in self.entries and c.baseline in self.entries
        }
        return {
            "suite": self.name,
            "title": self.title,
            "notes": self.notes,
            "systems": systems,
            "ratios": ratios,
        }
