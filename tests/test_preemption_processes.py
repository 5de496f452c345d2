"""SIGTERM from outside, to real training processes: a session, model.fit
with km.HookCallback, and the example binary, which exits with
km.PREEMPTED_EXIT_CODE and resumes at exactly the step it reached."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import keras_monitored as km

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")


def start(script, log_path, *flags):
    """Starts a program; its output goes to a file (a pipe nobody reads
    could fill up and block it)."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, os.path.join(REPO, *script.split("/")), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ENV,
            cwd=REPO,
        )


def wait_for(proc, log_path, pattern, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        match = re.search(pattern, log_path.read_text(), re.M)
        if match:
            return match
        assert proc.poll() is None, log_path.read_text()[-3000:]
        time.sleep(0.02)
    raise AssertionError(f"no {pattern!r}: " + log_path.read_text()[-3000:])


def latest_step(directory):
    path = tf.train.latest_checkpoint(str(directory))
    return int(path.rsplit("-", 1)[1]) if path else None


@pytest.mark.parametrize("mode", ["session", "fit"])
def test_sigterm_stops_at_the_step_in_progress_and_saves_it(tmp_path, mode):
    log_path = tmp_path / "log.txt"
    proc = start(
        "tests/programs/preemptible.py",
        log_path,
        f"--checkpoint_dir={tmp_path / 'ckpt'}",
        f"--mode={mode}",
    )
    try:
        wait_for(proc, log_path, r"^step 10$")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log_path.read_text()
    assert proc.returncode == km.PREEMPTED_EXIT_CODE, output[-3000:]
    result = json.loads(re.search(r"^result (.*)$", output, re.M).group(1))
    steps = [int(s) for s in re.findall(r"^step (\d+)$", output, re.M)]
    assert result["preempted"] is True
    # The step in progress when the signal came was the last one: it
    # completed, nothing ran after it, and it is what was saved.
    assert steps[-1] == result["global_step"] >= 10
    assert result["end_steps"] == [result["global_step"]]
    assert latest_step(tmp_path / "ckpt") == result["global_step"]


def test_example_binary_exits_42_and_resumes_at_that_step(tmp_path):
    """SIGTERM mid-run: exit 42 after the `done` line, a checkpoint at that
    step; the restart starts there and (with --checkpoint_input) ends with
    the weights of a run that was never stopped."""
    checkpoint_dir = tmp_path / "run"
    common = ["--checkpoint_input", "--log_every_n_steps=1000000"]
    log_path = tmp_path / "preempted.log"
    proc = start(
        "examples/train.py",
        log_path,
        f"--checkpoint_dir={checkpoint_dir}",
        "--max_steps=100000000",
        "--save_checkpoint_steps=100000000",
        *common,
    )
    try:
        wait_for(proc, log_path, r"^start global_step=0 ")
        # A CSV row is written at each 100-step epoch end: training is on.
        while not (checkpoint_dir / "training_log.csv").exists() or (
            len((checkpoint_dir / "training_log.csv").read_text().splitlines())
            < 2
        ):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log_path.read_text()
    assert proc.returncode == km.PREEMPTED_EXIT_CODE, output[-3000:]
    done = re.search(
        r"^done global_step=(\d+) .*weights_digest=(\w+)", output, re.M
    )
    assert done, output[-3000:]
    stopped_at, stopped_digest = int(done.group(1)), done.group(2)
    assert stopped_at >= 100
    assert latest_step(checkpoint_dir) == stopped_at

    target = stopped_at + 30
    resumed = run_example(checkpoint_dir, target, *common)
    assert (
        f"start global_step={stopped_at} weights_digest={stopped_digest}"
        in resumed.stdout
    )
    resumed_done = re.search(
        r"^done global_step=(\d+) .*weights_digest=(\w+)", resumed.stdout, re.M
    )
    assert int(resumed_done.group(1)) == target

    uninterrupted = run_example(tmp_path / "uninterrupted", target, *common)
    assert f"done global_step={target} " in uninterrupted.stdout
    assert f"weights_digest={resumed_done.group(2)}" in uninterrupted.stdout, (
        "the resumed run did not continue with the next batches"
    )


def run_example(checkpoint_dir, max_steps, *flags):
    """Runs examples/train.py to `max_steps`; it must succeed."""
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "examples", "train.py"),
            f"--checkpoint_dir={checkpoint_dir}",
            f"--max_steps={max_steps}",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result
