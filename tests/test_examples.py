"""The example binaries, run as users run them (subprocesses), and the real
TensorBoard server reading what they wrote."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import portpicker
import pytest
import tensorflow as tf

from examples.common import build_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")


def run(script, *flags, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, os.path.join(REPO, *script.split("/")), *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env or ENV,
    )


def done_step(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.search(r"done global_step=(\d+)", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def test_train_example_prints_where_things_went(tmp_path):
    result = run(
        "examples/train.py",
        f"--checkpoint_dir={tmp_path}",
        "--max_steps=120",
        "--steps_per_loop=8",
    )
    assert done_step(result) == 120
    assert f"checkpoints: {tmp_path}" in result.stdout
    assert f"tensorboard --logdir {tmp_path}" in result.stdout
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-120")
    rows = (tmp_path / "training_log.csv").read_text().splitlines()
    assert (
        rows[0] == "epoch,loss,val_loss" and len(rows) == 3
    )  # Keras adds val_ columns; epochs 0 and 1 (partial)
    assert (
        "grad_norm = " in result.stderr
    )  # LoggingTensorHook on a km.expose'd tensor


def test_train_example_mirrored_strategy(tmp_path):
    result = run(
        "examples/train.py",
        f"--checkpoint_dir={tmp_path}",
        "--max_steps=40",
        "--strategy=mirrored",
    )
    assert done_step(result) == 40
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-40")


@pytest.mark.parametrize(
    "flag, message",
    [
        pytest.param("--max_steps=0", "flag --max_steps=0", id="max_steps"),
        pytest.param(
            "--strategy=central_storage",
            "flag --strategy=central_storage",
            id="strategy",
        ),
        pytest.param(
            "--learning_rate=fast",
            "flag --learning_rate=fast",
            id="learning_rate",
        ),
    ],
)
def test_bad_flag_values_are_usage_errors_naming_the_flag(
    tmp_path, flag, message
):
    result = run("examples/train.py", f"--checkpoint_dir={tmp_path}", flag)
    assert result.returncode != 0
    assert "Flags parsing error" in result.stderr and message in result.stderr


def test_fit_with_hooks_example(tmp_path):
    result = run(
        "examples/fit_with_hooks.py",
        f"--checkpoint_dir={tmp_path}",
        "--max_steps=150",
    )
    assert done_step(result) == 150
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-150")
    assert "global_step/sec" in result.stderr and "step = 101" in result.stderr


def test_fit_with_hooks_example_honours_its_flags(tmp_path):
    result = run(
        "examples/fit_with_hooks.py",
        f"--checkpoint_dir={tmp_path}",
        "--max_steps=55",
        "--steps_per_loop=10",  # steps_per_execution: stops at 60, not 55
        "--learning_rate=0",
        "--log_step_count_steps=0",  # no StepCounterHook
        "--save_checkpoint_steps=1000",
    )
    assert done_step(result) == 60
    assert "global_step/sec" not in result.stderr
    saved = sorted(
        int(path.rsplit("-", 1)[1])
        for path in tf.train.get_checkpoint_state(
            str(tmp_path)
        ).all_model_checkpoint_paths
    )
    assert saved == [0, 60]
    weights = []
    for step in saved:
        model = build_model()
        tf.train.Checkpoint(model=model).read(
            str(tmp_path / f"model.ckpt-{step}")
        ).expect_partial().assert_existing_objects_matched()
        weights.append(model.get_weights())
    for before, after in zip(*weights):  # --learning_rate=0: nothing moved
        np.testing.assert_array_equal(before, after)


def test_help_lists_km_flags_as_the_binary_s_with_one_default_each():
    for script, absent in (
        ("examples/train.py", ()),
        (
            "examples/fit_with_hooks.py",
            (
                "--save_summaries_steps",
                "--keep_checkpoint_max",
                "--[no]async_checkpoint",
                "--[no]checkpoint_input",
            ),
        ),
    ):
        result = run(script, "--help")
        assert result.returncode == 1, result.stderr[-3000:]  # absl's --help
        text = result.stdout
        for flag in ("--checkpoint_dir", "--max_steps", "--strategy"):
            assert f"  {flag}:" in text, (script, text)
        for flag in absent:
            assert f"  {flag}:" not in text, (script, flag)
        # One default per flag: absl's line, never a second one in km's text.
        entries = re.split(r"\n  --", text.split(f"{script}:", 1)[1])
        for entry in entries:
            assert entry.count("default:") <= 1, (script, entry)


@pytest.mark.parametrize(
    "script", ["examples/train.py", "examples/fit_with_hooks.py"]
)
def test_an_unusable_checkpoint_dir_fails_at_start_naming_the_flag(
    tmp_path, script
):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run(script, f"--checkpoint_dir={blocker / 'run'}")
    assert result.returncode == 1
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith(
        f"flag --checkpoint_dir={str(blocker / 'run')!r} cannot be used: "
    ), result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_tf1_program_and_its_migrated_twin_train_alike(tmp_path):
    tf1 = run(
        "examples/tf1/train_tf1.py",
        f"--checkpoint_dir={tmp_path / 'tf1'}",
        "--max_steps=200",
    )
    twin = run(
        "examples/tf1/train_km.py",
        f"--checkpoint_dir={tmp_path / 'km'}",
        "--max_steps=200",
    )
    for result in (tf1, twin):
        assert result.returncode == 0, result.stderr[-3000:]
    tf1_losses = json.loads(tf1.stdout.strip().splitlines()[-1])["losses"]
    km_losses = json.loads(twin.stdout.strip().splitlines()[-1])["losses"]
    assert len(tf1_losses) == len(km_losses) == 200
    np.testing.assert_allclose(km_losses, tf1_losses, rtol=1e-4)
    assert km_losses[-1] < km_losses[0] / 50  # it trained
    # Both leave a checkpoint at the last step.
    assert tf.train.latest_checkpoint(str(tmp_path / "tf1")).endswith(
        "model.ckpt-200"
    )
    assert tf.train.latest_checkpoint(str(tmp_path / "km")).endswith(
        "model.ckpt-200"
    )


@pytest.mark.slow
def test_train_example_multi_worker(tmp_path):
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = dict(
            ENV,
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(REPO, "examples", "train.py"),
                    f"--checkpoint_dir={tmp_path}",
                    "--max_steps=30",
                    "--save_checkpoint_steps=10",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
        )
    try:
        outputs = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
        assert "done global_step=30" in out
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-30")
    names = os.listdir(tmp_path)
    assert all(
        n == "checkpoint"
        or n.startswith(("model.ckpt-", "events.out", "training_log"))
        for n in names
    )


# -- TensorBoard -------------------------------------------------------------


def tensorboard_scalars(logdir, tags, expected_counts, timeout=90):
    """Starts TensorBoard on 127.0.0.1 and returns {tag: [(step, value)]}."""
    port = portpicker.pick_unused_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            f"--logdir={logdir}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--reload_interval=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        deadline = time.time() + timeout
        while True:
            try:
                scalars = {}
                for tag in tags:
                    url = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=.&tag={urllib.request.quote(tag, safe='')}"
                    with urllib.request.urlopen(url, timeout=5) as response:
                        scalars[tag] = [
                            (step, value)
                            for _, step, value in json.load(response)
                        ]
                if all(len(scalars[t]) >= expected_counts[t] for t in tags):
                    return scalars
            except OSError:
                pass  # not up (or not loaded) yet
            if time.time() > deadline:
                raise AssertionError(
                    f"TensorBoard did not serve the scalars within {timeout}s"
                )
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def event_values(directory, tag):
    """{step: [value, ...]} of `tag` on disk, in file order. A file cut off
    mid-record (by a kill) is read up to its last complete record."""
    values = {}
    for name in sorted(os.listdir(directory)):
        if not name.startswith("events.out"):
            continue
        try:
            for event in tf.compat.v1.train.summary_iterator(
                os.path.join(directory, name)
            ):
                for value in event.summary.value:
                    if value.tag == tag:
                        values.setdefault(event.step, []).append(
                            value.simple_value
                            if value.HasField("simple_value")
                            else float(tf.make_ndarray(value.tensor))
                        )
        except tf.errors.DataLossError:
            pass
    return values


def latest_step(directory):
    path = tf.train.latest_checkpoint(directory)
    return int(path.rsplit("-", 1)[1]) if path else None


def kill_once_points_past_the_checkpoint_are_on_disk(process, directory):
    """SIGKILLs `process` (training into `directory`) at a moment when the
    event files already hold loss points past its last checkpoint: the
    points TensorBoard must drop once the run restarts from that checkpoint.
    Each look is taken with the process stopped (SIGSTOP), so the files and
    the checkpoint cannot move while they are compared."""
    deadline = time.time() + 180
    while time.time() < deadline:
        assert process.poll() is None, "the example ended before the kill"
        time.sleep(0.2)
        process.send_signal(signal.SIGSTOP)
        checkpoint = latest_step(directory)
        loss_steps = event_values(directory, "loss")
        if checkpoint and max(loss_steps, default=0) > checkpoint:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return
        process.send_signal(signal.SIGCONT)
    raise AssertionError("no moment with points past the checkpoint")


@pytest.mark.slow
def test_tensorboard_serves_continuous_steps_across_a_restart(tmp_path):
    flags = [
        f"--checkpoint_dir={tmp_path}",
        "--save_checkpoint_steps=100",
        "--save_summaries_steps=10",
        "--log_step_count_steps=10",
        "--log_every_n_steps=100000",
    ]
    with open(tmp_path.parent / "killed.log", "w") as log:
        killed = subprocess.Popen(
            [
                sys.executable,
                os.path.join(REPO, "examples", "train.py"),
                *flags,
                "--max_steps=100000000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=ENV,
        )
        try:
            kill_once_points_past_the_checkpoint_are_on_disk(
                killed, str(tmp_path)
            )
        finally:
            if killed.poll() is None:
                killed.kill()
                killed.wait()
    assert killed.returncode == -signal.SIGKILL
    restored = latest_step(str(tmp_path))
    stale = {
        step: values
        for step, values in event_values(str(tmp_path), "loss").items()
        if step > restored
    }
    assert stale and all(len(v) == 1 for v in stale.values())

    # The killed run wrote summaries up to step restored + 91 at most (the
    # next checkpoint came at restored + 100): the restart covers them all.
    end = restored + 100
    resumed = run("examples/train.py", *flags, f"--max_steps={end}")
    assert f"start global_step={restored}" in resumed.stdout
    assert done_step(resumed) == end

    scalars = tensorboard_scalars(
        str(tmp_path),
        ["loss", "global_step/sec"],
        {"loss": len(range(1, end, 10)), "global_step/sec": 1},
    )
    # Every 10th step once, no gap, no duplicate: the killed run's up to the
    # checkpoint, the restarted run's after it.
    assert [step for step, _ in scalars["loss"]] == list(range(1, end, 10))
    on_disk = event_values(str(tmp_path), "loss")
    served = dict(scalars["loss"])
    for step in range(restored + 1, end, 10):
        assert served[step] == pytest.approx(on_disk[step][-1], rel=1e-6)
    for step, (stale_value,) in stale.items():  # written twice, served once
        assert len(on_disk[step]) == 2 and on_disk[step][0] == stale_value
        assert served[step] != pytest.approx(stale_value, rel=1e-6)
    # The restarted run's step counter starts its clock at restored + 1 and
    # writes from restored + 11 on; those are the values served.
    rates_on_disk = event_values(str(tmp_path), "global_step/sec")
    rates = dict(scalars["global_step/sec"])
    assert sorted(rates) == [step for step, _ in scalars["global_step/sec"]]
    restarted_rates = list(range(restored + 11, end, 10))
    assert [s for s in rates if s > restored + 1] == restarted_rates
    for step in restarted_rates:
        assert rates[step] == pytest.approx(rates_on_disk[step][-1], rel=1e-6)
