"""The benchmark runner: every suite, interleaved rounds, results JSON, the
generated section of docs/benchmarks.md and its plots.

    python -m benchmarks                 # everything (about 15 minutes)
    python -m benchmarks --quick --out /tmp/bench   # a smoke test (< 1 min)
    python -m benchmarks --only throughput_W1 hooks --rounds 3
    python -m benchmarks --profile       # cProfile the systems behind targets

Round r runs every suite, and within it every system, once, in an order
rotated by r; ratios are taken per round against that round's baseline and
reported as their median, min and max. Without `--out`, results go to
benchmarks/results/, the page to docs/benchmarks.md and the plots to
docs/images/; with `--out DIR`, to DIR/results/, DIR/benchmarks.md and
DIR/images/ (the committed files are left alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Suites in the order they are reported.
SUITES = (
    "throughput_W1",
    "throughput_W2",
    "throughput_W3",
    "hooks",
    "checkpoint",
    "close",
    "rss",
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much a run measures.

    Attributes:
      rounds: interleaved rounds.
      steps: steps per system per round, per throughput workload.
      hook_steps: steps per hook variant per round.
      hook_variants: the per-hook variants (None: all).
      throughput_systems: in-process systems of the throughput suites
        (None: all).
      tf1: run TF1's graph-mode session (a worker process per workload).
      save_steps: steps between saves in the checkpoint suite.
      close_sessions: the close suite's sessions (None: all).
      rss_steps: steps each peak-RSS process trains.
      rss_systems: the peak-RSS systems (None: all).
      suites: the suites run by default.
    """

    rounds: int
    steps: dict[str, int]
    hook_steps: int
    hook_variants: list[str] | None
    throughput_systems: list[str] | None
    tf1: bool
    save_steps: int
    close_sessions: list[str] | None
    rss_steps: int
    rss_systems: list[str] | None
    suites: tuple[str, ...]


FULL = Settings(
    rounds=8,
    steps={"W1": 2000, "W2": 200, "W3": 300},
    hook_steps=1000,
    hook_variants=None,
    throughput_systems=None,
    tf1=True,
    save_steps=40,
    close_sessions=None,
    rss_steps=1000,
    rss_systems=["raw_step", "km_spl1"],
    suites=SUITES,
)
QUICK = Settings(
    rounds=2,
    steps={"W1": 200, "W2": 100, "W3": 100},
    hook_steps=100,
    hook_variants=["NanTensorHook@1", "LoggingTensorHook@100"],
    throughput_systems=[
        "raw_step",
        "raw_loop",
        "fit_spe1",
        "hookcb_spe1",
        "km_spl1",
        "km_spl100",
    ],
    tf1=True,
    save_steps=5,
    close_sessions=["w1_default_hooks"],
    rss_steps=100,
    rss_systems=["raw_step", "km_spl1"],
    suites=("throughput_W1", "hooks", "checkpoint", "close"),
)


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where a run writes."""

    results: str
    page: str
    images: str
    logs: str

    @classmethod
    def for_out(cls, out: str | None) -> "Paths":
        if out is None:
            logs = tempfile.mkdtemp(prefix="km_bench_logs_")
            return cls(
                os.path.join(REPO, "benchmarks", "results"),
                os.path.join(REPO, "docs", "benchmarks.md"),
                os.path.join(REPO, "docs", "images"),
                logs,
            )
        logs = os.path.join(out, "logs")
        os.makedirs(logs, exist_ok=True)
        return cls(
            os.path.join(out, "results"),
            os.path.join(out, "benchmarks.md"),
            os.path.join(out, "images"),
            logs,
        )


def make_suite(name: str, settings: Settings, paths: Paths) -> Any:
    """Builds the named suite's object (its systems are built later)."""
    if name.startswith("throughput_"):
        from benchmarks import throughput

        workload = name.split("_")[1]
        return throughput.suite(
            workload,
            settings.steps[workload],
            settings.throughput_systems,
            tf1=settings.tf1,
            log_dir=paths.logs,
        )
    if name == "hooks":
        from benchmarks import hook_overhead

        return hook_overhead.suite(settings.hook_steps, settings.hook_variants)
    if name == "checkpoint":
        from benchmarks import async_checkpoint

        return async_checkpoint.CheckpointSuite(settings.save_steps)
    if name == "close":
        from benchmarks import close_time

        return close_time.CloseSuite(settings.close_sessions)
    if name == "rss":
        from benchmarks import peak_rss

        return peak_rss.RssSuite(
            settings.rss_steps, log_dir=paths.logs, systems=settings.rss_systems
        )
    raise ValueError(f"Unknown suite {name!r}; expected one of {SUITES}")


def run_suites(
    names: list[str], settings: Settings, paths: Paths, mode: str
) -> dict[str, dict[str, Any]]:
    """Builds the suites, runs the rounds, writes one JSON per suite."""
    from benchmarks import common

    started = time.time()
    facts = common.machine_facts()
    suites = [make_suite(name, settings, paths) for name in names]
    for suite in suites:
        suite.build()
    for round_index in range(settings.rounds):
        began = time.perf_counter()
        for suite in common.rotated(suites, round_index):
            suite.run_round(round_index)
        common.progress(
            f"round {round_index + 1}/{settings.rounds} took "
            f"{time.perf_counter() - began:.1f} s"
        )
    for suite in suites:
        suite.close()
    facts["loadavg_end"] = list(os.getloadavg())
    facts["loadavg_start"] = facts.pop("loadavg")
    run = {
        "mode": mode,
        "rounds": settings.rounds,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": time.time() - started,
        "suites_run_together": names,
    }
    os.makedirs(paths.results, exist_ok=True)
    results = {}
    for suite in suites:
        result = suite.result() | {"machine": facts, "run": run}
        results[suite.name] = result
        with open(os.path.join(paths.results, f"{suite.name}.json"), "w") as f:
            json.dump(result, f, indent=2)
    return results


def load_results(results_dir: str) -> dict[str, dict[str, Any]]:
    """Every suite's latest results file in `results_dir`."""
    results = {}
    for name in SUITES:
        path = os.path.join(results_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path) as handle:
                results[name] = json.load(handle)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: tiny settings"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SUITES,
        metavar="NAME",
        help="suites to run",
    )
    parser.add_argument(
        "--out", help="write results, page and plots under this directory"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the systems behind the targets (profile.json)",
    )
    parser.add_argument(
        "--report_only",
        action="store_true",
        help="regenerate the page and plots from the results files",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # measure the work, not the terminal
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = dataclasses.replace(settings, rounds=args.rounds)
    paths = Paths.for_out(args.out)
    mode = "quick" if args.quick else "full"
    began = time.time()
    if args.profile:
        from benchmarks import common, graph_costs, profiling

        os.makedirs(paths.results, exist_ok=True)
        facts = common.machine_facts()
        profiles = {
            "cprofile": profiling.profile_all(200 if args.quick else 2000),
            "graph_costs": graph_costs.measure(
                200 if args.quick else 2000, 3 if args.quick else 9
            ),
        }
        facts["loadavg_end"] = list(os.getloadavg())
        facts["loadavg_start"] = facts.pop("loadavg")
        profiles["machine"] = facts
        with open(os.path.join(paths.results, "profile.json"), "w") as f:
            json.dump(profiles, f, indent=2)
    elif not args.report_only:
        run_suites(list(args.only or settings.suites), settings, paths, mode)
    from benchmarks import report

    report.write(paths, load_results(paths.results))
    what = (
        "report"
        if args.report_only
        else ("profile" if args.profile else f"{mode} run")
    )
    print(
        f"benchmarks: {what} done in {time.time() - began:.0f} s; "
        f"results in {paths.results}, page {paths.page}",
        file=sys.stderr,
    )
    return 0
