"""Twenty SIGKILLs at random moments of a session that saves every step:
every restart finds a complete checkpoint whose values belong to its step,
and the run that finally finishes ends with the values of a run that was
never interrupted. (A longer soak: `python benchmarks/kill_soak.py`.)"""

from __future__ import annotations

import os
import random
import time

from tests.kill_soak import (
    check_matches_its_step,
    kill_repeatedly,
    run_to_completion,
)
from tests.programs.save_every_step import expected_values


def test_twenty_sigkills_at_random_moments_lose_nothing(tmp_path):
    seed = int(os.environ.get("KM_SOAK_SEED", time.time_ns() % 10**6))
    context = f"KM_SOAK_SEED={seed}"
    checkpoint_dir = str(tmp_path / "run")
    progress = kill_repeatedly(
        checkpoint_dir, tmp_path, 20, random.Random(seed), context
    )
    assert progress and progress[-1] > 0, f"{context}: no progress {progress}"

    # The last restart goes on to a fixed step, and ends where a run that
    # was never killed ends.
    last_step = progress[-1] + 200
    resumed_start, resumed_done = run_to_completion(
        checkpoint_dir, tmp_path / "final.log", f"--last_step={last_step}"
    )
    check_matches_its_step(resumed_start, f"{context}, final restart")
    assert resumed_start[0] >= progress[-1]
    _, uninterrupted_done = run_to_completion(
        str(tmp_path / "uninterrupted"),
        tmp_path / "uninterrupted.log",
        f"--last_step={last_step}",
        "--save_steps=100000000",
    )
    assert (
        resumed_done
        == uninterrupted_done
        == (
            last_step,
            *expected_values(last_step),
        )
    ), context
