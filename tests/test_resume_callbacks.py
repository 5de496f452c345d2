"""Kill a training process after epoch 2 of 5 (SIGKILL, a real subprocess),
restart it: EarlyStopping's best/wait and the CSV log continue exactly as in a
run that was never interrupted."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(REPO, "tests", "programs", "early_stopping_run.py")


def run(checkpoint_dir, csv_path, *flags):
    return subprocess.run(
        [
            sys.executable,
            PROGRAM,
            f"--checkpoint_dir={checkpoint_dir}",
            f"--csv={csv_path}",
            f"--log_file={checkpoint_dir}.log",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )


def summary(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def rows(path):
    with open(path) as handle:
        return [
            (r["epoch"], round(float(r["loss"]), 6))
            for r in csv.DictReader(handle)
        ]


def test_kill_after_epoch_two_then_resume_matches_uninterrupted(tmp_path):
    straight = summary(run(tmp_path / "straight", tmp_path / "straight.csv"))
    # The uninterrupted run: best at epoch 1, then 2 flat epochs -> stop after 3.
    assert (straight["best_epoch"], straight["stopped_epoch"]) == (1, 3)

    killed = run(
        tmp_path / "run", tmp_path / "run.csv", "--kill_at_step=19"
    )  # 3 batches into epoch 2
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith(
        "model.ckpt-16"
    )
    assert [epoch for epoch, _ in rows(tmp_path / "run.csv")] == ["0", "1"]

    resumed = summary(run(tmp_path / "run", tmp_path / "run.csv"))
    assert resumed == straight
    assert rows(tmp_path / "run.csv") == rows(tmp_path / "straight.csv")
    # LoggingTensorHook (after the saver in the list: its state for step 16
    # changed after that save) logs where the uninterrupted run logged.
    straight_steps = (tmp_path / "straight.log").read_text().split()
    assert straight_steps == [str(step) for step in range(1, 32, 5)]
    assert (tmp_path / "run.log").read_text().split() == straight_steps
