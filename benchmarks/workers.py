"""Systems measured in processes of their own: a long-lived worker the
runner asks for one measurement per round, or a one-shot run.

A worker is `python -m benchmarks.<module> ... --serve`: it builds its
system once, prints a ready line, then for each line `STEPS` it reads from
stdin trains that many steps and prints one result line. Protocol lines
start with `PROTOCOL` so TensorFlow's own output cannot be mistaken for
them. A one-shot run is `python -m benchmarks.<module> ... --json`: it
prints one result line and exits (peak RSS needs a fresh process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Callable, TextIO

PROTOCOL = "BENCHMARK-RESULT "
READY = "BENCHMARK-READY"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return dict(
        os.environ,
        PYTHONPATH=REPO + (os.pathsep + path if path else ""),
        TF_CPP_MIN_LOG_LEVEL="2",
    )


def _command(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.{module}", *args]


def emit(result: dict[str, Any], stream: TextIO = sys.stdout) -> None:
    """Prints one result line of the protocol."""
    stream.write(PROTOCOL + json.dumps(result) + "\n")
    stream.flush()


def serve(measure: Callable[[int], dict[str, Any]]) -> None:
    """A worker's main loop: one `measure(steps)` per line of stdin."""
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip():
            emit(measure(int(line)))


def _read_result(stream: TextIO, what: str) -> dict[str, Any]:
    for line in stream:
        if line.startswith(PROTOCOL):
            return json.loads(line[len(PROTOCOL) :])
    raise RuntimeError(f"{what} ended without a result; see its stderr")


class Worker:
    """A long-lived subprocess that runs one system.

    Args:
      module: the module under `benchmarks` (e.g. `tf1_session`).
      args: its command-line arguments (`--serve` is added).
      log_path: where the worker's stderr goes.
    """

    def __init__(self, module: str, args: list[str], log_path: str):
        self.what = " ".join([module, *args])
        self._log = open(log_path, "w")
        self._process = subprocess.Popen(
            _command(module, [*args, "--serve"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=REPO,
            env=_environment(),
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip() == READY:
                break
        else:
            self.close()
            raise RuntimeError(
                f"worker {self.what} exited before it was ready; see {log_path}"
            )

    def measure(self, steps: int) -> dict[str, Any]:
        """Asks the worker to train `steps` steps; returns its result."""
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(f"{steps}\n")
        self._process.stdin.flush()
        return _read_result(self._process.stdout, f"worker {self.what}")

    def close(self) -> None:
        """Ends the worker (closing its stdin ends its loop)."""
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def run_once(
    module: str, args: list[str], log_path: str, timeout: float = 600
) -> dict[str, Any]:
    """Runs `python -m benchmarks.<module> ARGS --json` in a fresh process
    and returns its result."""
    with open(log_path, "a") as log:
        completed = subprocess.run(
            _command(module, [*args, "--json"]),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=REPO,
            env=_environment(),
            timeout=timeout,
        )
    if completed.returncode:
        raise RuntimeError(
            f"{module} {' '.join(args)} exited with {completed.returncode}; "
            f"see {log_path}"
        )
    return _read_result(iter(completed.stdout.splitlines()), module)
