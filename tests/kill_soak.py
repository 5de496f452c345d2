"""Killing a session that saves every step, again and again (SIGKILL at
random moments), and checking every restart: what tests/test_kill_soak.py
runs 20 times and `python benchmarks/kill_soak.py` as long as asked."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.programs.save_every_step import expected_values

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(REPO, "tests", "programs", "save_every_step.py")
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
LINE = re.compile(r"^(start|done) (\d+) (\S+) (\S+)$", re.M)


def start(checkpoint_dir: str, log_path: Path, *flags: str) -> subprocess.Popen:
    """Starts the program; its output goes to `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                PROGRAM,
                f"--checkpoint_dir={checkpoint_dir}",
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ENV,
            cwd=REPO,
        )


def reported(log_path: Path, kind: str) -> tuple[int, float, float] | None:
    """(step, counter, total) of the program's `start`/`done` line, or None."""
    for match in LINE.finditer(log_path.read_text()):
        if match.group(1) == kind:
            return (
                int(match.group(2)),
                float(match.group(3)),
                float(match.group(4)),
            )
    return None


def wait_for_start(proc, log_path: Path, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = reported(log_path, "start")
        if line is not None:
            return line
        if proc.poll() is not None:
            raise AssertionError(log_path.read_text()[-3000:])
        time.sleep(0.02)
    raise AssertionError("never started: " + log_path.read_text()[-3000:])


def check_matches_its_step(line, context: str) -> None:
    step, counter, total = line
    if (counter, total) != expected_values(step):
        raise AssertionError(
            f"{context}: restored values {counter}, {total} do not belong to "
            f"step {step} (expected {expected_values(step)})"
        )


def kill_repeatedly(
    checkpoint_dir: str,
    log_dir: Path,
    kills: int,
    rng: random.Random,
    context: str,
) -> list[int]:
    """Starts and SIGKILLs the program `kills` times (a fifth of the kills
    land anywhere in start-up, the rest up to 1 s into training); checks
    each restart's restored values and that no restart went back. Returns
    the step each restart resumed from."""
    progress: list[int] = []
    for kill in range(kills):
        log_path = log_dir / f"kill_{kill}.log"
        proc = start(checkpoint_dir, log_path, "--last_step=100000000")
        try:
            if rng.random() < 0.2:
                # Anywhere in start-up: import, session creation, restore.
                time.sleep(rng.uniform(0.5, 5.0))
            else:
                wait_for_start(proc, log_path)
                time.sleep(rng.uniform(0.0, 1.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(context + log_path.read_text()[-3000:])
        line = reported(log_path, "start")
        if line is not None:
            check_matches_its_step(line, f"{context}, restart {kill}")
            if progress and line[0] < progress[-1]:
                raise AssertionError(
                    f"{context}: restart {kill} went back from step "
                    f"{progress[-1]} to {line[0]}"
                )
            progress.append(line[0])
    return progress


def run_to_completion(checkpoint_dir: str, log_path: Path, *flags: str):
    """Runs the program to its end; returns its (start, done) lines."""
    proc = start(checkpoint_dir, log_path, *flags)
    if proc.wait(timeout=600) != 0:
        raise AssertionError(log_path.read_text()[-3000:])
    return reported(log_path, "start"), reported(log_path, "done")


def leftovers(checkpoint_dir: str) -> list[str]:
    """What saves cut short left behind (`*_temp` directories, `checkpoint.tmp*`
    files): evidence that kills landed mid-save."""
    return sorted(
        name
        for name in os.listdir(checkpoint_dir)
        if name.endswith("_temp") or name.startswith("checkpoint.tmp")
    )
