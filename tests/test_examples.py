"""The example binaries, run as users run them (subprocesses), and the real
TensorBoard server reading what they wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import numpy as np
import portpicker
import pytest
import tensorflow as tf

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


@pytest.mark.parametrize(
    "flag, message",
    [
        pytest.param("--max_steps=0", "flag --max_steps=0", id="max_steps"),
        pytest.param(
            "--strategy=parameter_server",
            "flag --strategy=parameter_server",
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


def event_values(path_glob_dir, tag):
    values = {}
    for name in sorted(os.listdir(path_glob_dir)):
        if name.startswith("events.out"):
            for event in tf.compat.v1.train.summary_iterator(
                os.path.join(path_glob_dir, name)
            ):
                for value in event.summary.value:
                    if value.tag == tag:
                        values.setdefault(event.step, []).append(
                            float(tf.make_ndarray(value.tensor))
                        )
    return values


@pytest.mark.slow
def test_tensorboard_serves_continuous_steps_across_a_restart(tmp_path):
    flags = [
        f"--checkpoint_dir={tmp_path}",
        "--save_checkpoint_steps=40",
        "--save_summaries_steps=10",
        "--log_step_count_steps=10",
    ]
    assert done_step(run("examples/train.py", *flags, "--max_steps=100")) == 100
    # On disk now: exactly what a crash at step 100, just before its save,
    # leaves -- the last complete checkpoint is 80, summaries reach step 91.
    for name in os.listdir(tmp_path):
        if name.startswith("model.ckpt-100."):
            os.remove(tmp_path / name)
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "model.ckpt-80"\n'
        'all_model_checkpoint_paths: "model.ckpt-40"\nall_model_checkpoint_paths: "model.ckpt-80"\n'
    )
    resumed = run("examples/train.py", *flags, "--max_steps=160")
    assert "start global_step=80" in resumed.stdout
    assert done_step(resumed) == 160

    scalars = tensorboard_scalars(
        str(tmp_path),
        ["loss", "global_step/sec"],
        {"loss": 16, "global_step/sec": 14},
    )
    loss_steps = [step for step, _ in scalars["loss"]]
    assert loss_steps == list(
        range(1, 160, 10)
    )  # every step once, no gap, no duplicate
    # Steps 81 and 91 were written twice (before and after the restart); the
    # server keeps the restarted run's values.
    on_disk = event_values(str(tmp_path), "loss")
    assert len(on_disk[81]) == 2 and len(on_disk[91]) == 2
    served = dict(scalars["loss"])
    assert served[81] == pytest.approx(on_disk[81][-1], rel=1e-6)
    assert served[91] == pytest.approx(on_disk[91][-1], rel=1e-6)
    rate_steps = [step for step, _ in scalars["global_step/sec"]]
    assert rate_steps == sorted(set(rate_steps)) and rate_steps[-1] == 151
