"""Real parameter-server clusters for tests: one process per TF_CONFIG task
on 127.0.0.1 (ports from portpicker), all running the same binary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import portpicker

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(REPO, "tests", "programs", "ps_train.py")


class Cluster:
    """A chief, `workers` workers and `ps` parameter servers.

    The worker and ps processes start at once and serve; `run_chief` runs the
    chief to its end.
    """

    def __init__(self, tmp_path, workers=2, ps=1, program=PROGRAM):
        self.tmp_path = tmp_path
        self.program = program
        self.spec = {
            "chief": [f"127.0.0.1:{portpicker.pick_unused_port()}"],
            "worker": [
                f"127.0.0.1:{portpicker.pick_unused_port()}"
                for _ in range(workers)
            ],
            "ps": [
                f"127.0.0.1:{portpicker.pick_unused_port()}" for _ in range(ps)
            ],
        }
        self.servers: dict[tuple[str, int], subprocess.Popen] = {}
        for index in range(workers):
            self.start("worker", index)
        for index in range(ps):
            self.start("ps", index)

    def env(self, task_type, index):
        return dict(
            os.environ,
            PYTHONPATH=REPO,
            TF_CPP_MIN_LOG_LEVEL="2",
            TF_CONFIG=json.dumps(
                {
                    "cluster": self.spec,
                    "task": {"type": task_type, "index": index},
                }
            ),
        )

    def start(self, task_type, index):
        log = open(self.tmp_path / f"{task_type}{index}.log", "ab")
        self.servers[(task_type, index)] = subprocess.Popen(
            [sys.executable, self.program],
            env=self.env(task_type, index),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def kill(self, task_type, index):
        process = self.servers.pop((task_type, index))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def chief(self, *flags):
        """Starts the chief; returns its Popen (stdout and stderr merged)."""
        return subprocess.Popen(
            [sys.executable, self.program, *flags],
            env=self.env("chief", 0),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )

    def run_chief(self, *flags, timeout=100):
        process = self.chief(*flags)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise AssertionError(f"the chief hung:\n{output[-5000:]}")
        return process.returncode, output

    def close(self):
        for process in self.servers.values():
            process.kill()
        for process in self.servers.values():
            process.wait(timeout=30)
        self.servers.clear()


def wait_for_line(path, predicate, timeout=60):
    """Waits until a line of the file at `path` satisfies `predicate`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    if predicate(line):
                        return line
        time.sleep(0.2)
    raise AssertionError(f"no matching line in {path} after {timeout} s")
