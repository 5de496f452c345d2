"""Broken checkpoints and unusable checkpoint directories: a damaged latest
checkpoint falls back to the newest readable one, with a warning naming
both; none readable is an error naming checkpoint_dir (never a fresh start
over the files); a directory that cannot be written is refused naming it,
and a save that cannot be written leaves the previous checkpoint intact."""

from __future__ import annotations

import glob
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from keras_monitored._checkpoint_directory import read_problem

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")


def train(directory, last_step):
    """Trains a counter to `last_step`, saving every step; returns the
    values of `w` the session started from."""
    km.reset_global_step()
    w = tf.Variable(tf.zeros([1000]))
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(directory),
        scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(w=w)),
        save_checkpoint_steps=1,
        hooks=[km.hooks.StopAtStepHook(last_step=last_step)],
    ) as sess:
        start = (int(km.get_global_step().numpy()), w.numpy().copy())
        while not sess.should_stop():
            sess.run(lambda: {"w": w.assign_add(tf.ones_like(w))})
    return start


def truncate_data(path):
    (data,) = glob.glob(f"{path}.data-*")
    with open(data, "r+b") as handle:
        handle.truncate(100)


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_one(
    tmp_path, caplog
):
    train(tmp_path, 3)
    latest = tf.train.latest_checkpoint(str(tmp_path))
    assert latest.endswith("model.ckpt-3")
    truncate_data(latest)
    assert "Read less bytes than requested" in read_problem(latest)

    with caplog.at_level(logging.WARNING):
        step, values = train(tmp_path, 5)
    assert step == 2
    np.testing.assert_array_equal(values, np.full([1000], 2.0))
    previous = os.path.join(str(tmp_path), "model.ckpt-2")
    assert re.search(
        rf"Checkpoint {re.escape(latest)} cannot be read \(IndexError: Read "
        rf"less bytes than requested\); restoring {re.escape(previous)}, the "
        rf"newest checkpoint of {re.escape(str(tmp_path))} that can, instead",
        caplog.text,
    ), caplog.text
    # Training went on from step 2; the damaged step-3 files were replaced.
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-5")
    assert read_problem(os.path.join(str(tmp_path), "model.ckpt-3")) is None


def test_no_readable_checkpoint_is_an_error_naming_checkpoint_dir(tmp_path):
    train(tmp_path, 2)
    for path in glob.glob(str(tmp_path / "model.ckpt-*.index")):
        truncate_data(path[: -len(".index")])
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(tf.errors.DataLossError) as raised:
        train(tmp_path, 5)
    message = raised.value.message
    assert (
        f"No checkpoint in checkpoint_dir={str(tmp_path)!r} can be read"
        in message
    )
    assert "will not start from scratch" in message
    for step in (0, 1, 2):
        assert f"model.ckpt-{step}: IndexError" in message
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_a_damaged_explicit_checkpoint_is_an_error_naming_it(tmp_path):
    train(tmp_path / "run", 1)
    path = tf.train.latest_checkpoint(str(tmp_path / "run"))
    truncate_data(path)
    with pytest.raises(tf.errors.DataLossError) as raised:
        km.MonitoredSession(
            session_creator=km.ChiefSessionCreator(
                checkpoint_filename_with_path=path,
                scaffold=km.Scaffold(
                    checkpoint=tf.train.Checkpoint(
                        w=tf.Variable(tf.zeros([1000]))
                    )
                ),
            )
        )
    assert (
        f"The checkpoint checkpoint_filename_with_path={path!r} cannot be "
        "read: IndexError" in raised.value.message
    )


def test_a_checkpoint_dir_through_a_file_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    directory = str(blocker / "run")
    ran = []
    with pytest.raises(PermissionError) as raised:
        with km.MonitoredTrainingSession(checkpoint_dir=directory) as sess:
            sess.run(lambda: ran.append(1) or {})
    assert str(raised.value).startswith(
        f"checkpoint_dir={directory!r} cannot be used: "
    )
    assert "is not a directory" in str(raised.value)
    assert ran == []


def test_a_flag_naming_an_unusable_directory_is_named(tmp_path):
    from absl import flags

    from keras_monitored import flags as km_flags

    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    values = flags.FlagValues()
    km_flags.define_flags(values)
    values(
        [
            "train",
            f"--checkpoint_dir={tmp_path}/run",
            f"--summary_dir={blocker}/tb",
        ]
    )
    with pytest.raises(PermissionError) as raised:
        km_flags.session_from_flags(flag_values=values)
    assert str(raised.value).startswith(
        f"flag --summary_dir={str(blocker / 'tb')!r} cannot be used: "
    )


def run_program(tmp_path, mode):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(
                REPO, "tests", "programs", "unusable_checkpoint_dir.py"
            ),
            f"--checkpoint_dir={tmp_path / 'run'}",
            f"--mode={mode}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    error = re.search(r"^error (.*)$", result.stdout, re.M)
    latest = re.search(r"^latest (.*)$", result.stdout, re.M).group(1)
    return (error.group(1) if error else None), latest


def test_a_save_that_cannot_be_written_names_the_directory_and_keeps_the_previous(
    tmp_path,
):
    error, latest = run_program(tmp_path, "disk_full")
    directory = str(tmp_path / "run")
    assert error is not None
    assert error.startswith(
        "RuntimeError: Writing the checkpoint for global step 2 failed: "
    )
    assert (
        f"Check that checkpoint_dir={directory!r} is a writable directory with "
        "free space. The latest complete checkpoint is "
        f"{os.path.join(directory, 'model.ckpt-1')!r}." in error
    )
    assert latest == os.path.join(directory, "model.ckpt-1")
    assert read_problem(latest) is None
    w = tf.Variable(tf.zeros([256 * 1024]))
    tf.train.Checkpoint(big=w).read(latest).assert_existing_objects_matched()
    np.testing.assert_array_equal(w.numpy(), np.ones([256 * 1024]))


def test_a_directory_without_write_permission_is_refused_naming_it(tmp_path):
    directory = tmp_path / "run"
    directory.mkdir()
    os.chmod(directory, 0o555)  # root ignores it: the program drops to nobody
    error, latest = run_program(tmp_path, "no_permission")
    assert error is not None
    assert error.startswith(
        f"UnusableDirectoryError: checkpoint_dir={str(directory)!r} cannot be "
        "used: "
    ), error
    assert "Permission denied" in error
    assert latest == "None"
    assert os.listdir(directory) == []
