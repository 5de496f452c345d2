"""close() returns promptly, and the program exits, with an autotuned,
prefetching pipeline over a Python generator still busy (real subprocesses:
a hang is the failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(REPO, "tests", "programs", "generator_pipeline.py")


@pytest.mark.slow
@pytest.mark.parametrize("steps", [3, 40])
def test_close_and_exit_are_prompt_with_a_busy_pipeline(steps):
    result = subprocess.run(
        [sys.executable, PROGRAM, str(steps)],
        capture_output=True,
        text=True,
        timeout=90,  # TimeoutExpired: close() or the exit hung
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    close_secs = json.loads(result.stdout.strip().splitlines()[-1])[
        "close_secs"
    ]
    assert close_secs < 1.0
