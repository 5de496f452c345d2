"""async_checkpoint=True: background saves of Keras 3 models and optimizers
with a synchronous save's keys and values, listeners called once the files
are complete, crash safety, errors surfaced (real TF, real files)."""

from __future__ import annotations

import logging
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

import keras_monitored as km
from keras_monitored import flags as km_flags
from keras_monitored._async_checkpoint import AsyncCheckpointWriter
from keras_monitored._checkpointing import (
    CheckpointWriter,
    ScratchCheckpointWriter,
    SessionCheckpoints,
)
from tests.programs import async_saves_forever

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def build_training():
    """A Keras 3 model + Adam (slots built at the first step), the same
    values and names on every call."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="net",
    )
    optimizer = keras.optimizers.Adam(0.01, name="adam")
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    y = x[:, :1] * 3.0

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return model, optimizer, step


class CountingHook(km.SessionRunHook):
    """Resumable state that changes every step (saved with checkpoints)."""

    def __init__(self):
        self.count = 0

    def after_run(self, run_context, run_values):
        self.count += 1

    def get_state(self):
        return {"count": self.count}


class ShiftsWeightsAfterTheSaver(km.SessionRunHook):
    """Changes a weight right after the saver's turn (a hook after it in
    the list): the checkpoint must hold the value of the save's moment."""

    def __init__(self, variable):
        self.variable = variable

    def after_run(self, run_context, run_values):
        self.variable.assign_add(tf.ones_like(self.variable))


def train(directory, *, async_checkpoint, last_step=6, **kwargs):
    """Trains the Keras model to `last_step`, saving after every step."""
    model, optimizer, step = build_training()
    with km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=1,
        save_summaries_steps=None,
        log_step_count_steps=None,
        max_to_keep=kwargs.pop("max_to_keep", 20),
        hooks=[
            ShiftsWeightsAfterTheSaver(model.get_layer("out").bias),
            CountingHook(),
            km.StopAtStepHook(last_step=last_step),
        ],
        async_checkpoint=async_checkpoint,
        **kwargs,
    ) as sess:
        while not sess.should_stop():
            sess.run(step)
    return model


def contents(path):
    """Every tensor of a checkpoint, by key."""
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
    }


def listed_steps(directory):
    state = tf.train.get_checkpoint_state(directory)
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]


def test_async_saves_of_a_keras_model_and_adam_equal_a_synchronous_run(
    tmp_path,
):
    sync_dir, async_dir = str(tmp_path / "sync"), str(tmp_path / "async")
    train(sync_dir, async_checkpoint=False)
    km.reset_global_step()
    trained = train(async_dir, async_checkpoint=True)

    # Steps 0..6: seven saves in a row, five and more with Adam's slots
    # (TF 2.21's own async save of Keras 3 objects fails at the second).
    assert listed_steps(async_dir) == listed_steps(sync_dir) == list(range(7))
    for step in range(7):
        name = f"model.ckpt-{step}"
        sync_path = os.path.join(sync_dir, name)
        async_path = os.path.join(async_dir, name)
        assert tf.train.list_variables(async_path) == tf.train.list_variables(
            sync_path
        )
        expected, got = contents(sync_path), contents(async_path)
        assert got.keys() == expected.keys()
        for key in expected:  # the object graph too, byte for byte
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
        state = ".km_hook_state.json"
        assert (
            pathlib.Path(async_path + state).read_text()
            == pathlib.Path(sync_path + state).read_text()
        )
        # Restorable the plain TF way, Adam's slots included (from step 1:
        # the step-0 save precedes them).
        restored = []
        for path in (sync_path, async_path):
            model, optimizer, _ = build_training()
            optimizer.build(model.trainable_variables)
            status = tf.train.Checkpoint(
                model=model, optimizer=optimizer
            ).restore(path)
            if step:
                status.assert_existing_objects_matched()
            status.expect_partial()
            restored.append(
                [v.numpy() for v in model.weights + optimizer.variables]
            )
        for mine, theirs in zip(*restored):
            np.testing.assert_array_equal(mine, theirs)
    # Adam's slots were saved (built at the first step).
    assert any(
        re.fullmatch(r"optimizer/_variables/\d+/\.ATTRIBUTES/VARIABLE_VALUE", k)
        for k in got
    )

    # km's strict restore resumes from the last one with its values (the
    # trained model's bias moved on after the last save).
    km.reset_global_step()
    model, optimizer, step = build_training()
    with km.MonitoredTrainingSession(
        checkpoint_dir=async_dir,
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=1,
        async_checkpoint=True,
    ) as sess:
        assert sess.run("global_step") == 6
        for mine, theirs in zip(model.weights, trained.weights):
            shift = 1.0 if mine.path == "net/out/bias" else 0.0
            np.testing.assert_array_equal(mine.numpy() + shift, theirs.numpy())
        sess.run(step)  # slots restored too: checked after the first step
        assert int(optimizer.iterations.numpy()) == 7


def test_async_saves_of_distributed_variables_equal_synchronous_ones(
    tmp_path, mirrored
):
    """MirroredStrategy over two CPUs: a mirrored variable, and a sync-on-read
    one (saved as the sum over replicas)."""

    def run(directory, async_checkpoint):
        km.reset_global_step()
        with mirrored.scope():
            weight = tf.Variable(0.0, aggregation=tf.VariableAggregation.MEAN)
            count = tf.Variable(
                0.0,
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.SUM,
            )

        def step():
            weight.assign_add(1.0)
            count.assign_add(1.0)
            return {}

        with km.MonitoredTrainingSession(
            checkpoint_dir=directory,
            scaffold=km.Scaffold(checkpoint={"w": weight, "count": count}),
            save_checkpoint_steps=1,
            strategy=mirrored,
            async_checkpoint=async_checkpoint,
            hooks=[km.StopAtStepHook(last_step=4)],
        ) as sess:
            while not sess.should_stop():
                sess.run(step)

    run(str(tmp_path / "sync"), False)
    run(str(tmp_path / "async"), True)
    for step in range(5):
        name = f"model.ckpt-{step}"
        expected = contents(str(tmp_path / "sync" / name))
        got = contents(str(tmp_path / "async" / name))
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert got["count/.ATTRIBUTES/VARIABLE_VALUE"] == 8.0  # 2 replicas x 4


class CompleteFilesListener(km.CheckpointSaverListener):
    """Records what it is called with, and whether each save's files are
    complete (every tensor readable, named latest) when after_save runs."""

    def __init__(self, directory):
        self.directory = directory
        self.calls = []

    def before_save(self, session, global_step_value):
        self.calls.append(("before_save", global_step_value))

    def after_save(self, session, global_step_value):
        path = os.path.join(self.directory, f"model.ckpt-{global_step_value}")
        complete = (
            threading.current_thread() is threading.main_thread()
            and tf.train.latest_checkpoint(self.directory) == path
            and len(contents(path)) > 1
        )
        self.calls.append(("after_save", global_step_value, complete))

    def end(self, session, global_step_value):
        self.calls.append(("end", global_step_value))


def test_listeners_after_save_runs_once_the_files_are_complete(tmp_path):
    directory = str(tmp_path)
    listener = CompleteFilesListener(directory)
    # Writes of a quarter of a second each, so they are still in flight
    # when the step that saved returns.
    big = tf.Variable(tf.zeros([16 * 1024 * 1024]))
    weight = tf.Variable(0.0)
    hook = km.CheckpointSaverHook(directory, save_steps=2, listeners=[listener])
    with km.MonitoredTrainingSession(
        scaffold=km.Scaffold(checkpoint={"w": weight, "big": big}),
        hooks=[hook, km.StopAtStepHook(last_step=5)],
        async_checkpoint=True,
    ) as sess:
        while not sess.should_stop():
            sess.run(lambda: {"w": weight.assign_add(1.0)})

    # In order, every save, the last one (at `end`) before listeners' end.
    assert listener.calls == [
        ("before_save", 0),
        ("after_save", 0, True),
        ("before_save", 2),
        ("after_save", 2, True),
        ("before_save", 4),
        ("after_save", 4, True),
        ("before_save", 5),
        ("after_save", 5, True),
        ("end", 5),
    ]


def test_a_save_returns_while_its_files_are_written_and_close_waits(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="absl")
    directory = str(tmp_path)
    big = tf.Variable(tf.zeros([async_saves_forever.BIG_ELEMENTS]))
    weight = tf.Variable(0.0)
    with km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(checkpoint={"w": weight, "big": big}),
        save_checkpoint_steps=1,
        async_checkpoint=True,
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
        # The run that saved step 1 has returned; its write goes on.
        written = [t.name for t in threading.enumerate()]
        assert any(name.endswith("model.ckpt-1") for name in written), written
        assert not os.path.exists(os.path.join(directory, "model.ckpt-1.index"))
        assert tf.train.latest_checkpoint(directory) == os.path.join(
            directory, "model.ckpt-0"
        )
    # close() waited, and said so.
    assert tf.train.latest_checkpoint(directory) == os.path.join(
        directory, "model.ckpt-1"
    )
    saved = contents(os.path.join(directory, "model.ckpt-1"))
    assert saved["w/.ATTRIBUTES/VARIABLE_VALUE"] == 1.0
    assert re.search(r"Waiting for checkpoint .*model\.ckpt-1", caplog.text)


def test_closing_on_an_error_still_waits_for_the_write_in_flight(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="absl")
    directory = str(tmp_path)
    big = tf.Variable(tf.zeros([async_saves_forever.BIG_ELEMENTS]))
    weight = tf.Variable(0.0)
    with pytest.raises(KeyError, match="user error"):
        with km.MonitoredTrainingSession(
            checkpoint_dir=directory,
            scaffold=km.Scaffold(checkpoint={"w": weight, "big": big}),
            save_checkpoint_steps=1,
            async_checkpoint=True,
        ) as sess:
            sess.run(lambda: {"w": weight.assign_add(1.0)})
            raise KeyError("user error")  # no `end`: no final save
    assert tf.train.latest_checkpoint(directory) == os.path.join(
        directory, "model.ckpt-1"
    )
    assert "before the session is released" in caplog.text


def test_recovery_waits_for_the_save_in_flight_and_restores_it(tmp_path):
    """As TF1: an AbortedError in a hook after the saver, in the phase that
    saved step 3, restores step 3 -- here while its files are in flight."""
    directory = str(tmp_path)
    big = tf.Variable(tf.zeros([async_saves_forever.BIG_ELEMENTS]))
    weight = tf.Variable(0.0)
    restored = []

    class AbortsAtStep3(km.SessionRunHook):
        def after_create_session(self, session, coord):
            restored.append(session.restored_step)

        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            if run_values.results == 3 and len(restored) == 1:
                raise tf.errors.AbortedError(None, None, "worker restarted")

    with km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(checkpoint={"w": weight, "big": big}),
        save_checkpoint_steps=1,
        async_checkpoint=True,
        hooks=[AbortsAtStep3(), km.StopAtStepHook(last_step=5)],
    ) as sess:
        while not sess.should_stop():
            sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert restored == [None, 3]
    assert km_latest_step(directory) == 5


def test_retention_only_ever_names_and_keeps_complete_checkpoints(tmp_path):
    directory = str(tmp_path)
    train(directory, async_checkpoint=True, max_to_keep=2)
    assert listed_steps(directory) == [5, 6]
    assert sorted(os.listdir(directory)) == [
        "checkpoint",
        "model.ckpt-5.data-00000-of-00001",
        "model.ckpt-5.index",
        "model.ckpt-5.km_hook_state.json",
        "model.ckpt-6.data-00000-of-00001",
        "model.ckpt-6.index",
        "model.ckpt-6.km_hook_state.json",
    ]


def test_a_kill_mid_write_leaves_the_previous_checkpoint_to_resume(tmp_path):
    directory = str(tmp_path / "run")
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(
                    REPO, "tests", "programs", "async_saves_forever.py"
                ),
                directory,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO),
        )
    in_flight = None
    deadline = time.time() + 180
    try:
        while time.time() < deadline and in_flight is None:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            latest = km_latest_step(directory)
            if latest is not None and latest >= 2:
                partial = os.path.join(
                    directory, f"model.ckpt-{latest + 1}_temp"
                )
                if os.path.isdir(partial):
                    proc.send_signal(signal.SIGKILL)
                    in_flight = latest + 1
            time.sleep(0.002)
        assert in_flight is not None, "no write was ever caught in flight"
    finally:
        proc.kill()
        proc.wait(timeout=30)

    # The write of `in_flight` was cut short; the state file names only
    # complete checkpoints, the newest being the one before.
    assert not os.path.exists(
        os.path.join(directory, f"model.ckpt-{in_flight}.index")
    )
    resumed_from = in_flight - 1
    assert km_latest_step(directory) == resumed_from
    for step in listed_steps(directory):
        assert contents(os.path.join(directory, f"model.ckpt-{step}"))

    items = async_saves_forever.checkpoint_items()
    with km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(checkpoint=items),
        save_checkpoint_steps=1,
        async_checkpoint=True,
    ) as sess:
        assert sess.run("global_step") == resumed_from
        assert float(items["w"].numpy()) == resumed_from
        sess.run(lambda: {"w": items["w"].assign_add(1.0)})
    assert km_latest_step(directory) == resumed_from + 1


def km_latest_step(directory):
    """The step of the checkpoint the `checkpoint` state file names."""
    if not os.path.isdir(directory):
        return None
    path = tf.train.latest_checkpoint(directory)
    return int(path.rsplit("-", 1)[1]) if path else None


def test_a_failed_write_surfaces_naming_the_directory(tmp_path):
    directory = str(tmp_path / "run")
    weight = tf.Variable(0.0)
    with (
        pytest.raises(RuntimeError, match=re.escape(repr(directory))) as raised,
        km.MonitoredTrainingSession(
            checkpoint_dir=directory,
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            save_checkpoint_steps=1,
            async_checkpoint=True,
        ) as sess,
    ):
        sess.run(lambda: {"w": weight.assign_add(1.0)})
        sess.run(lambda: {"w": weight.assign_add(1.0)})
        # The directory goes (a write may be in flight: moved whole),
        # and a file takes its place.
        os.rename(directory, directory + ".moved")
        with open(directory, "w") as blocker:
            blocker.write("not a directory")
        for _ in range(3):
            sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert "in the background failed" in str(raised.value)


def test_a_listener_stop_request_counts_once_its_save_is_complete(tmp_path):
    class StopAfterSaving(km.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            return global_step_value == 2

    big = tf.Variable(tf.zeros([16 * 1024 * 1024]))
    weight = tf.Variable(0.0)
    hook = km.CheckpointSaverHook(
        str(tmp_path), save_steps=2, listeners=[StopAfterSaving()]
    )
    with km.MonitoredTrainingSession(
        scaffold=km.Scaffold(checkpoint={"w": weight, "big": big}),
        hooks=[hook, km.StopAtStepHook(last_step=10)],
        async_checkpoint=True,
    ) as sess:
        while not sess.should_stop():
            sess.run(lambda: {"w": weight.assign_add(1.0)})
    # Asked at step 2's after_save, which runs once that save's files are
    # complete: at a later after_run, at the latest when the save of step 4
    # waits for them. The stop comes then, long before last_step.
    assert float(weight.numpy()) in (2.0, 3.0, 4.0)


def test_session_checkpoints_make_background_writers_for_the_chief_only(
    tmp_path,
):
    step = tf.Variable(0, dtype=tf.int64)
    background = SessionCheckpoints({}, step, 3, async_save=True)
    at_once = SessionCheckpoints({}, step, 3)
    assert isinstance(background.writer(str(tmp_path)), AsyncCheckpointWriter)
    assert isinstance(at_once.writer(str(tmp_path)), CheckpointWriter)
    assert isinstance(
        background.scratch_writer(str(tmp_path), "model.ckpt", "worker_1"),
        ScratchCheckpointWriter,
    )
    writer = background.writer(str(tmp_path))
    path = writer.save(7)
    writer.wait()
    assert writer.pending() is None
    assert (
        writer.latest() == path == os.path.join(str(tmp_path), "model.ckpt-7")
    )


def test_the_async_checkpoint_flag_reaches_the_session(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    values = flags.FlagValues()
    km_flags.define_flags(values)
    assert values["async_checkpoint"].default is False
    values(["prog", f"--checkpoint_dir={tmp_path}", "--async_checkpoint"])
    weight = tf.Variable(0.0)
    with km_flags.session_from_flags(
        scaffold=km.Scaffold(checkpoint={"w": weight}), flag_values=values
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert "in the background" in caplog.text
