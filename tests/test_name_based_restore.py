"""TF1 name-based checkpoints (keras_monitored/_name_based_restore.py):
restored only when every session variable matches a TF1 name; otherwise a
ValueError that names them and gives the km-migrate command. The checkpoints
are real ones, written by tf.compat.v1.train.Saver in graph mode."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines
from tests.test_strict_restore import checkpoint_files, files

tf1 = tf.compat.v1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_tf1_checkpoint(directory, variables, step=42, adam=False):
    """Trains nothing: creates `variables` ({name: value}) and `global_step`
    in a TF1 graph and saves them with TF1's Saver, as a TF1 program's
    MonitoredTrainingSession left them. `adam` adds Adam's slots."""
    with tf.Graph().as_default():
        global_step = tf1.train.get_or_create_global_step()
        created = [
            tf1.get_variable(name, initializer=np.asarray(value, np.float32))
            for name, value in variables.items()
        ]
        if adam:
            loss = tf.add_n([tf.reduce_sum(v**2) for v in created])
            tf1.train.AdamOptimizer(0.1).minimize(loss)
        with tf1.Session() as session:
            session.run(tf1.global_variables_initializer())
            session.run(global_step.assign(step))
            return tf1.train.Saver().save(
                session,
                os.path.join(str(directory), "model.ckpt"),
                global_step=step,
            )


DENSE = {
    "dense/kernel": np.arange(3, dtype=np.float32).reshape(3, 1),
    "dense/bias": np.array([0.5], np.float32),
}


def keras_model():
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, name="dense")],
        name="sequential",
    )


def test_a_keras_model_does_not_match_tf1_names_and_nothing_is_touched(
    tmp_path,
):
    path = write_tf1_checkpoint(tmp_path, DENSE)
    before = files(tmp_path)
    model = keras_model()
    initial = model.get_weights()
    with pytest.raises(ValueError) as raised:
        km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(model=model)),
            save_checkpoint_steps=1,
        )
    message = str(raised.value)
    assert f"{path} is a TF1 name-based checkpoint" in message
    assert (
        "no TF1 value of that name: sequential/dense/kernel [3, 1] float32, "
        "sequential/dense/bias [1] float32." in message
    )
    assert (
        "TF1 names in the checkpoint: dense/bias, dense/kernel, global_step"
        in message
    )
    assert (
        f"km-migrate checkpoint {path} --model FILE.py:FUNCTION "
        f"--out {tmp_path}_tf2" in message
    )
    assert f"checkpoint_dir='{tmp_path}_tf2'" in message
    assert "tf.train.Checkpoint(model=..., optimizer=...)" in message
    assert files(tmp_path) == before
    for got, want in zip(model.get_weights(), initial):
        np.testing.assert_array_equal(got, want)
    assert km.get_global_step().numpy() == 0  # not even the global step


def test_the_same_refusal_inside_fit(tmp_path):
    write_tf1_checkpoint(tmp_path, DENSE)
    before = files(tmp_path)
    model = keras_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((8, 3), np.float32)
    callback = km.HookCallback(
        [km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=1)],
        restore=True,
    )
    with pytest.raises(
        ValueError,
        # fit saves the optimizer too: the command converts its state.
        match=r"TF1 name-based checkpoint.*sequential/dense/kernel.*"
        r"km-migrate checkpoint .* --model FILE\.py:FUNCTION --optimizer "
        r"FILE\.py:OPTIMIZER_FUNCTION --out .*_tf2, then give the "
        r"CheckpointSaverHook that directory",
    ):
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[callback])
    assert files(tmp_path) == before
    assert int(model.optimizer.iterations.numpy()) == 0


def test_matching_names_are_restored_and_unused_tf1_values_logged_once(
    tmp_path,
):
    path = write_tf1_checkpoint(
        tmp_path, {"w": [[1.0, 2.0]], "b": [3.0]}, adam=True
    )
    w = tf.Variable(tf.zeros((1, 2)), name="w")
    b = tf.Variable(tf.zeros((1,)), name="b")
    with captured_lines(r"match nothing in the session") as lines:
        for _ in range(2):  # the same checkpoint restored twice
            km.reset_global_step()
            with km.SingularMonitoredSession(
                scaffold=km.Scaffold(checkpoint={"w": w, "b": b}),
                checkpoint_filename_with_path=path,
            ) as sess:
                np.testing.assert_array_equal(w.numpy(), [[1.0, 2.0]])
                np.testing.assert_array_equal(b.numpy(), [3.0])
                assert sess.raw_session().run("global_step") == 42
                sess.run(lambda: {"w": w.assign_add(tf.ones((1, 2)))})
            w.assign(tf.zeros((1, 2)))
    assert len(lines) == 1
    assert lines[0].startswith("6 TF1 values in checkpoint")
    assert lines[0].endswith(
        "b/Adam, b/Adam_1, beta1_power, beta2_power, w/Adam, w/Adam_1"
    )


def test_a_shape_mismatch_is_refused_naming_both_shapes(tmp_path):
    write_tf1_checkpoint(tmp_path, {"w": np.zeros((2, 2))})
    w = tf.Variable(tf.zeros((3,)), name="w")
    with pytest.raises(
        ValueError,
        match=r"another shape or dtype: w: \[3\] float32 here, \[2, 2\] "
        r"float32 in the checkpoint\.",
    ):
        km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint={"w": w}),
        )
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))


def test_variables_created_by_the_first_step_are_refused_suggesting_optimizer(
    tmp_path,
):
    """A TF1 checkpoint is matched when it is restored; the slots of a
    TF1 optimizer kept in TF2 appear at the first step, get no value, and
    are refused before any hook's after_run."""
    path = write_tf1_checkpoint(tmp_path, {"w": [1.0, 2.0]}, adam=True)
    before = checkpoint_files(tmp_path)
    w = tf.Variable(tf.zeros((2,)), name="w")
    optimizer = tf1.train.MomentumOptimizer(0.1, momentum=0.9)
    after_runs = []

    class Recorder(km.SessionRunHook):
        def after_run(self, run_context, run_values):
            after_runs.append(1)

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w**2)
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        return {"loss": loss}

    sess = km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": w, "optimizer": optimizer}),
        save_checkpoint_steps=1,
        hooks=[Recorder()],
    )
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    with pytest.raises(
        ValueError,
        match=r"left 1 of the session's variables without a value: "
        r"w/\.OPTIMIZER_SLOT/optimizer/momentum\..*km-migrate checkpoint "
        + re.escape(path)
        + r" --model FILE\.py:FUNCTION --optimizer FILE\.py:OPTIMIZER_FUNCTION",
    ):
        with sess:
            sess.run(step)
    assert after_runs == [] and checkpoint_files(tmp_path) == before


def test_distributed_variables_get_the_tf1_values_on_every_replica(
    tmp_path, mirrored
):
    write_tf1_checkpoint(tmp_path, {"w": [1.0, 2.0]}, step=7)
    with mirrored.scope():
        w = tf.Variable(tf.zeros((2,)), name="w")
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": w}),
        strategy=mirrored,
    ) as sess:
        replicas = mirrored.experimental_local_results(w)
        assert len(replicas) == 2
        for value in replicas:
            np.testing.assert_array_equal(value.numpy(), [1.0, 2.0])
        assert sess.run("global_step") == 7


def test_allow_partial_restore_assigns_the_matching_ones_with_a_warning(
    tmp_path,
):
    write_tf1_checkpoint(tmp_path, {"w": [1.0, 2.0]})
    w = tf.Variable(tf.zeros((2,)), name="w")
    extra = tf.Variable(7.0, name="extra")
    with captured_lines(r"allow_partial_restore=True") as lines:
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(
                checkpoint={"w": w, "extra": extra},
                allow_partial_restore=True,
            ),
        ):
            np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
            assert extra.numpy() == 7.0
            assert km.get_global_step().numpy() == 42
    assert len(lines) == 1
    assert "restoring the 2 matching variables only" in lines[0]
    assert "no TF1 value of that name: extra [] float32" in lines[0]


def run_example(script, *flags):
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "tf1", script), *flags],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )


def losses(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])["losses"]


def test_the_migrated_example_resumes_the_tf1_programs_checkpoint(tmp_path):
    """train_tf1.py (graph mode, TF1's Saver) trains to step 100; its
    migrated twin train_km.py resumes from that checkpoint by name and
    continues the loss curve from the TF1 weights."""
    directory = str(tmp_path / "run")
    tf1_losses = losses(
        run_example(
            "train_tf1.py", f"--checkpoint_dir={directory}", "--max_steps=100"
        )
    )
    tf1_path = os.path.join(directory, "model.ckpt-100")
    reader = tf.train.load_checkpoint(tf1_path)
    assert not reader.has_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    weights = {n: reader.get_tensor(n) for n in ("w1", "b1", "w2", "b2")}
    tf1_files = {
        name: mtime
        for name, mtime in files(directory).items()
        if name.startswith("model.ckpt-100")
    }

    result = run_example(
        "train_km.py", f"--checkpoint_dir={directory}", "--max_steps=150"
    )
    km_losses = losses(result)
    assert len(km_losses) == 50  # resumed at step 100, not 0
    assert "Restored TF1 name-based checkpoint" in result.stderr
    # The first km step ran on the restored TF1 weights: its loss is the
    # loss of those weights on km's first batch.
    sys.path.insert(0, os.path.join(REPO, "examples", "tf1"))
    try:
        from data import BATCH, data
    finally:
        sys.path.pop(0)
    x, y = data()
    x, y = x[:BATCH], y[:BATCH]
    hidden = np.maximum(x @ weights["w1"] + weights["b1"], 0.0)
    expected = np.mean((hidden @ weights["w2"] + weights["b2"] - y) ** 2)
    np.testing.assert_allclose(km_losses[0], expected, rtol=1e-4)
    assert km_losses[0] < tf1_losses[0] / 50  # the curve goes on, not anew
    # km's own checkpoint at the end; TF1's files were not rewritten.
    assert tf.train.latest_checkpoint(directory).endswith("model.ckpt-150")
    assert {
        name: mtime
        for name, mtime in files(directory).items()
        if name.startswith("model.ckpt-100")
    } == tf1_files
