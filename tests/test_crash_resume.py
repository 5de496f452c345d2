"""Kill the example training binary with SIGKILL mid-run; it resumes from the
last complete checkpoint with the saved variable values (real processes).
And `tests.crash.abandon`, the in-process stand-in for a kill, leaves what a
real kill leaves."""

from __future__ import annotations

import gc
import glob
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import tensorflow as tf

import keras_monitored as km
from examples import common as example
from tests.crash import abandon
from tests.programs import killed_after_steps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def latest_step(directory):
    path = tf.train.latest_checkpoint(directory)
    return (int(path.rsplit("-", 1)[1]), path) if path else (None, None)


def digest_of(checkpoint_path):
    model = example.build_model()
    tf.train.Checkpoint(model=model).restore(checkpoint_path).expect_partial()
    return example.weights_digest(model)


def start_example(checkpoint_dir, log_path, *flags):
    """Starts the example; its output goes to a file (a pipe nobody reads
    could fill up and block it)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                os.path.join(REPO, "examples", "train.py"),
                f"--checkpoint_dir={checkpoint_dir}",
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )


def test_sigkill_mid_run_then_resume(tmp_path):
    checkpoint_dir = str(tmp_path / "run")
    log_path = tmp_path / "killed.log"
    proc = start_example(
        checkpoint_dir,
        log_path,
        "--max_steps=100000000",
        "--save_checkpoint_steps=40",
        "--log_every_n_steps=1000",
    )
    deadline = time.time() + 180
    try:
        while time.time() < deadline:
            step, _ = (
                latest_step(checkpoint_dir)
                if os.path.isdir(checkpoint_dir)
                else (None, None)
            )
            if step is not None and step >= 120:
                break
            assert proc.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.05)
        else:
            raise AssertionError("the example never reached step 120")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    killed_at, path = latest_step(checkpoint_dir)
    assert killed_at >= 120 and killed_at % 40 == 0
    expected_digest = digest_of(path)

    resumed = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "examples", "train.py"),
            f"--checkpoint_dir={checkpoint_dir}",
            f"--max_steps={killed_at + 25}",
            "--save_checkpoint_steps=40",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO),
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    start = re.search(
        r"start global_step=(\d+) weights_digest=(\w+)", resumed.stdout
    )
    assert start, resumed.stdout
    assert int(start.group(1)) == killed_at
    assert start.group(2) == expected_digest
    assert f"done global_step={killed_at + 25}" in resumed.stdout
    assert latest_step(checkpoint_dir)[0] == killed_at + 25


def file_events(path):
    """The events of one event file, without wall times."""
    events = []
    for event in tf.compat.v1.train.summary_iterator(path):
        if event.HasField("session_log"):
            events.append(("session_log", event.step, event.session_log.status))
        for value in event.summary.value:
            events.append(
                (
                    "summary",
                    event.step,
                    value.tag,
                    value.simple_value
                    if value.HasField("simple_value")
                    else float(tf.make_ndarray(value.tensor)),
                )
            )
    return events


def event_files(directory):
    return sorted(glob.glob(os.path.join(directory, "events.out.*")))


def left_on_disk(directory):
    """What a run left in `directory`, without wall times: checkpoint file
    names, the latest checkpoint's `w`, and each event file's events."""
    latest = tf.train.load_checkpoint(tf.train.latest_checkpoint(directory))
    return {
        "checkpoint files": sorted(
            n for n in os.listdir(directory) if not n.startswith("events")
        ),
        "w": float(latest.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE")),
        "events": [file_events(path) for path in event_files(directory)],
    }


def test_abandon_leaves_what_kill_9_leaves(tmp_path):
    """The same run, killed for real and abandoned in-process, leaves the
    same files. (Today every step flushes the summary writer, so what a kill
    loses is the SessionLog(START) the first step queues after it.)"""
    killed, abandoned = str(tmp_path / "killed"), str(tmp_path / "abandoned")
    child = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "tests", "programs", "killed_after_steps.py"),
            killed,
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO),
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]

    abandon(killed_after_steps.train(abandoned, 1))
    assert left_on_disk(abandoned) == left_on_disk(killed)

    # The restarted run (the same process, here) writes its own event file;
    # what the abandoned writer still held never reaches disk.
    frozen = {
        path: pathlib.Path(path).read_bytes() for path in event_files(abandoned)
    }
    km.reset_global_step()
    killed_after_steps.train(abandoned, 2).close()
    gc.collect()  # the abandoned writer is destroyed (and flushes) now
    for path, content in frozen.items():
        assert pathlib.Path(path).read_bytes() == content
    (new_file,) = set(event_files(abandoned)) - set(frozen)
    assert ("session_log", 2, 1) in file_events(new_file)
    assert left_on_disk(abandoned)["w"] == 3.0
