"""A long SIGKILL soak: the test suite's 20 kills (tests/test_kill_soak.py),
as many times as asked.

    python benchmarks/kill_soak.py [--kills 200] [--seed 7]

A session saves a checkpoint after every step; it is SIGKILLed at random
moments (a fifth of them anywhere in start-up, the rest up to 1 s into
training), restarted, and every restart must restore values that belong to
the step it restored. Then it runs to a fixed step and must end with the
values of a run never killed. Writes benchmarks/results/kill_soak.json:
kills, restarts that resumed, how many saves a kill cut short (left-over
`_temp` directories and `checkpoint.tmp*` files), and the result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import RESULTS  # noqa: E402
from tests.kill_soak import (  # noqa: E402
    check_matches_its_step,
    kill_repeatedly,
    leftovers,
    run_to_completion,
)
from tests.programs.save_every_step import expected_values  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 10**6
    context = f"--seed={seed}"
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="km_kill_soak_") as scratch:
        scratch = Path(scratch)
        checkpoint_dir = str(scratch / "run")
        progress = kill_repeatedly(
            checkpoint_dir, scratch, args.kills, random.Random(seed), context
        )
        cut_short = leftovers(checkpoint_dir)
        last_step = (progress[-1] if progress else 0) + 200
        start, done = run_to_completion(
            checkpoint_dir, scratch / "final.log", f"--last_step={last_step}"
        )
        check_matches_its_step(start, f"{context}, final restart")
        _, reference = run_to_completion(
            str(scratch / "uninterrupted"),
            scratch / "uninterrupted.log",
            f"--last_step={last_step}",
            "--save_steps=100000000",
        )
    expected = (last_step, *expected_values(last_step))
    result = {
        "kills": args.kills,
        "seed": seed,
        "restarts_that_resumed": len(progress),
        "saves_cut_short_left_files": len(cut_short),
        "final_step": last_step,
        "final_equals_uninterrupted": done == reference == expected,
        "seconds": round(time.time() - began, 1),
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "kill_soak.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result, indent=2))
    return 0 if result["final_equals_uninterrupted"] else 1


if __name__ == "__main__":
    sys.exit(main())
