"""Keras callbacks across a real kill (SIGKILL of a subprocess) and restart:
BackupAndRestore alone, BackupAndRestore next to km checkpoints (in a km
session and in fit), and CSVLogger with checkpoints that are not on epoch
ends. Each resumed run must equal the uninterrupted one."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(REPO, "tests", "programs", "callbacks_killed.py")


def run(tmp_path, name, *flags, kill_at_step=0):
    result = subprocess.run(
        [
            sys.executable,
            PROGRAM,
            f"--csv={tmp_path / (name + '.csv')}",
            f"--kill_at_step={kill_at_step}",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    if kill_at_step:
        assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
        return result
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["log"] = result.stderr
    return summary


def rows(path):
    with open(path) as handle:
        return [
            (r["epoch"], round(float(r["loss"]), 5))
            for r in csv.DictReader(handle)
        ]


def assert_same_weights(resumed, straight):
    for got, want in zip(resumed["weights"], straight["weights"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted runs, in a session and in fit."""
    tmp_path = tmp_path_factory.mktemp("straight")
    return {
        mode: run(tmp_path, mode, f"--mode={mode}")
        for mode in ("session", "fit")
    } | {"dir": tmp_path}


def test_backup_and_restore_alone_resumes_at_its_epoch(tmp_path, straight):
    """Before: the resumed session ignored the restored epoch and trained all
    4 epochs again (60 optimizer steps instead of 40)."""
    flags = ("--mode=session", f"--backup_dir={tmp_path / 'backup'}")
    run(tmp_path, "run", *flags, kill_at_step=25)
    resumed = run(tmp_path, "run", *flags)
    assert resumed["steps_run"] == 20  # epochs 2 and 3, from step 20
    assert resumed["global_step"] == resumed["iterations"] == 40
    assert_same_weights(resumed, straight["session"])
    assert "training resumes at global step 20" in resumed["log"]


def test_km_checkpoint_decides_over_an_older_backup(tmp_path, straight):
    """Before: BackupAndRestore's on_train_begin loaded its epoch-2 weights
    over the step-15 checkpoint km had just restored. And the CSV row of
    epoch 1, written after that checkpoint, came twice."""
    flags = (
        "--mode=session",
        f"--backup_dir={tmp_path / 'backup'}",
        f"--checkpoint_dir={tmp_path / 'ckpt'}",
        "--save_checkpoint_steps=15",
    )
    run(tmp_path, "run", *flags, kill_at_step=25)
    assert [e for e, _ in rows(tmp_path / "run.csv")] == ["0", "1"]
    resumed = run(tmp_path, "run", *flags)
    assert resumed["steps_run"] == 25  # from step 15
    assert resumed["global_step"] == resumed["iterations"] == 40
    assert_same_weights(resumed, straight["session"])
    assert "does not load its backup over it" in resumed["log"]
    assert rows(tmp_path / "run.csv") == rows(straight["dir"] / "session.csv")


def test_in_fit_hook_callback_and_backup_and_restore_restore_once(
    tmp_path, straight
):
    """BackupAndRestore (listed first) loads epoch 2; HookCallback does not
    restore its step-15 checkpoint over it (before: it did, and fit trained
    epochs 2-3 from step-15 weights)."""
    flags = (
        "--mode=fit",
        f"--backup_dir={tmp_path / 'backup'}",
        f"--checkpoint_dir={tmp_path / 'ckpt'}",
        "--save_checkpoint_steps=15",
    )
    run(tmp_path, "run", *flags, kill_at_step=25)
    resumed = run(tmp_path, "run", *flags)
    assert resumed["steps_run"] == 20
    assert resumed["iterations"] == 40
    assert_same_weights(resumed, straight["fit"])
    assert "the hooks' checkpoint is not restored over it" in resumed["log"]
    assert rows(tmp_path / "run.csv") == rows(straight["dir"] / "fit.csv")


# -- in-process: stops in the middle of an epoch ------------------------------

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_monitored as km  # noqa: E402
from tests import callback_scenarios as scenario  # noqa: E402


class _SignalAt(km.SessionRunHook):
    """Sends this process SIGTERM (km's preemption) after a step."""

    def __init__(self, step):
        self.step = step

    def before_run(self, run_context):
        return km.SessionRunArgs("global_step")

    def after_run(self, run_context, run_values):
        if run_values.results == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_stop_mid_epoch_then_resume_logs_each_epoch_once(tmp_path):
    """Before: the resumed run closed epoch 2 a second time (two rows)."""
    scenario.session(
        scenario.build_model(),
        [keras.callbacks.CSVLogger(str(tmp_path / "straight.csv"))],
        checkpoint_dir=str(tmp_path / "straight"),
        checkpoint_input=True,
    )
    for last_step in (25, 40):
        km.reset_global_step()  # a new process: a new global step
        scenario.session(
            scenario.build_model(),
            [keras.callbacks.CSVLogger(str(tmp_path / "run.csv"))],
            checkpoint_dir=str(tmp_path / "run"),
            checkpoint_input=True,
            last_step=last_step,
        )
        if last_step == 25:  # the partial epoch 2 was closed: a row
            assert [e for e, _ in rows(tmp_path / "run.csv")] == [
                "0",
                "1",
                "2",
            ]
    assert rows(tmp_path / "run.csv") == rows(tmp_path / "straight.csv")


def test_a_preempted_session_keeps_the_backup_it_resumes_from(tmp_path):
    """Before: on_train_end deleted the backup of a preempted run, so the
    restart began from scratch."""
    backup = str(tmp_path / "backup")
    scenario.session(
        scenario.build_model(),
        [keras.callbacks.BackupAndRestore(backup)],
        hooks=[_SignalAt(25)],
    )
    assert int(km.get_global_step().numpy()) == 25
    assert os.path.exists(os.path.join(backup, "training_metadata.json"))
    km.reset_global_step()  # a new process: a new global step
    resumed = scenario.build_model()
    scenario.session(resumed, [keras.callbacks.BackupAndRestore(backup)])
    assert int(resumed.optimizer.iterations.numpy()) == 40
    assert not os.path.exists(backup)  # finished: deleted, as fit does


def test_in_fit_a_backup_listed_after_hook_callback_is_refused(tmp_path):
    backup, ckpt = str(tmp_path / "backup"), str(tmp_path / "ckpt")

    def callbacks(kill_at=None):
        hooks = [km.hooks.CheckpointSaverHook(ckpt, save_steps=5)]
        if kill_at:
            hooks.append(_RaiseAt(kill_at))
        return [
            km.HookCallback(hooks, preemption_signals=()),
            keras.callbacks.BackupAndRestore(backup),
        ]

    with pytest.raises(RuntimeError, match="interrupted"):
        scenario.fit(scenario.build_model(), callbacks(kill_at=25))
    with pytest.raises(
        ValueError, match="List BackupAndRestore before HookCallback"
    ):
        scenario.fit(scenario.build_model(), callbacks())


def test_in_fit_hook_callback_restores_before_a_learning_rate_schedule(
    tmp_path,
):
    ckpt = str(tmp_path / "ckpt")
    rates = []

    def train(epochs):
        scheduler = keras.callbacks.LearningRateScheduler(lambda e, lr: 0.5)
        model = scenario.build_model()
        recorder = keras.callbacks.LambdaCallback(
            on_train_batch_begin=lambda b, logs: rates.append(
                float(model.optimizer.learning_rate.numpy())
            )
        )
        hooks = [km.hooks.CheckpointSaverHook(ckpt, save_steps=10)]
        scenario.fit(
            model,
            [scheduler, km.HookCallback(hooks), recorder],
            epochs=epochs,
        )

    train(1)
    rates.clear()
    train(2)
    # The restored checkpoint does not undo the schedule's rate.
    assert set(rates) == {0.5}


class _RaiseAt(km.SessionRunHook):
    def __init__(self, step):
        self.step = step

    def before_run(self, run_context):
        return km.SessionRunArgs("global_step")

    def after_run(self, run_context, run_values):
        if run_values.results >= self.step:
            raise RuntimeError("interrupted")


del tf
