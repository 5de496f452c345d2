"""Peak resident memory of one system training a workload, in a fresh
process (so nothing else the benchmark built counts).

    python -m benchmarks.peak_rss --system km_spl1 --workload W1 --json

Reports `resource.getrusage(RUSAGE_SELF).ru_maxrss` after building the
system and training `--steps` steps, and the same just after the imports
(what TensorFlow and Keras alone take); on Linux also the kernel's VmHWM
as a cross-check. The measuring process is a child of this one, started
before anything large is imported: Linux carries a parent's peak RSS into
its child's `ru_maxrss` across fork and exec, so a process started
straight from the (large) benchmark runner would report the runner's peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

from benchmarks import workers

# The systems whose memory is compared: key -> (label, its baseline).
SYSTEMS = {
    "raw_step": ("raw tf.function, 1 call per step", None),
    "km_spl1": ("km MonitoredTrainingSession, steps_per_loop=1", "raw_step"),
    "raw_loop": ("raw in-graph loop, 100 steps per call", None),
    "km_spl100": (
        "km MonitoredTrainingSession, steps_per_loop=100",
        "raw_loop",
    ),
}


def _peak_mb() -> float:
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes
    return kilobytes * scale / 2**20


def _hwm_mb() -> float | None:
    """The kernel's peak RSS of this process's memory (VmHWM), if known."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--system", choices=sorted(SYSTEMS), required=True)
    parser.add_argument("--workload", default="W1")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--measure", action="store_true", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if not args.measure:
        argv = sys.argv[1:] if argv is None else argv
        return subprocess.run(
            [sys.executable, "-m", "benchmarks.peak_rss", *argv, "--measure"]
        ).returncode
    from absl import logging

    from benchmarks import baselines, workloads

    if args.system.startswith("km_"):
        from benchmarks import km_systems

        factory = (
            lambda w: km_systems.km_session(  # noqa: E731
                w, int(args.system[len("km_spl") :])
            )
        )
    else:
        factory = {
            "raw_step": baselines.raw_per_step,
            "raw_loop": baselines.raw_in_graph,
        }[args.system]
    logging.set_verbosity(logging.WARNING)
    after_imports = _peak_mb()
    system = factory(workloads.WORKLOADS[args.workload])
    steps = args.steps - args.steps % system.granularity
    system.run(steps)
    result = {
        "system": args.system,
        "workload": args.workload,
        "steps": steps,
        "peak_rss_mb": _peak_mb(),
        "vm_hwm_mb": _hwm_mb(),
        "after_imports_mb": after_imports,
    }
    system.close()
    if args.json:
        workers.emit(result)
    else:
        print(f"{args.system}: peak RSS {result['peak_rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())


class RssSuite:
    """The runner's `rss` suite: each round starts one fresh process per
    system (rotating order) and records its peak RSS.

    Args:
      steps: steps each process trains.
      workload: the workload trained.
      log_dir: where the processes' stderr goes.
      systems: keys of `SYSTEMS` (default: all).
    """

    name = "rss"
    title = "Peak resident memory (ru_maxrss), one fresh process per system"

    def __init__(
        self,
        steps: int,
        workload: str = "W1",
        log_dir: str = ".",
        systems: list[str] | None = None,
    ):
        self.steps = steps
        self.workload = workload
        self.log_path = os.path.join(log_dir, "peak_rss.log")
        self.keys = systems or list(SYSTEMS)
        self.rounds: dict[str, list[dict]] = {k: [] for k in self.keys}

    def build(self) -> None:
        pass

    def run_round(self, round_index: int) -> None:
        from benchmarks import common

        for key in common.rotated(self.keys, round_index):
            self.rounds[key].append(
                workers.run_once(
                    "peak_rss",
                    [
                        "--system",
                        key,
                        "--workload",
                        self.workload,
                        "--steps",
                        str(self.steps),
                    ],
                    self.log_path,
                )
            )

    def close(self) -> None:
        pass

    def result(self) -> dict:
        from benchmarks import common

        systems = {
            key: {
                "label": SYSTEMS[key][0],
                "peak_rss_mb": [r["peak_rss_mb"] for r in rows],
                "after_imports_mb": [r["after_imports_mb"] for r in rows],
                "median_peak_rss_mb": statistics.median(
                    r["peak_rss_mb"] for r in rows
                ),
            }
            for key, rows in self.rounds.items()
        }
        ratios = {}
        for key in self.keys:
            baseline = SYSTEMS[key][1]
            if baseline in self.rounds:
                per_round = [
                    k["peak_rss_mb"] / b["peak_rss_mb"]
                    for k, b in zip(self.rounds[key], self.rounds[baseline])
                ]
                ratios[f"{key}/{baseline}"] = {
                    "system": key,
                    "baseline": baseline,
                    "kind": "memory",
                } | common.ratio_stats(per_round)
        return {
            "suite": self.name,
            "title": self.title,
            "notes": (
                f"{self.workload}, {self.steps} steps per process; the "
                "baselines' processes never import keras_monitored."
            ),
            "systems": systems,
            "ratios": ratios,
        }
