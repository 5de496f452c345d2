"""Checkpoint files, retention, restore and resumable hook state."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.crash import abandon


def checkpoint_steps(directory):
    names = os.listdir(directory)
    return sorted(
        {
            int(n.split("-")[1].split(".")[0])
            for n in names
            if n.startswith("model.ckpt-")
        }
    )


def make_model():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(0.01)

    def step():
        x = tf.ones((4, 3))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return model, optimizer, step


def train(
    directory,
    last_step,
    save_steps=3,
    max_to_keep=5,
    hooks=(),
    model_parts=None,
):
    model, optimizer, step = model_parts or make_model()
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(directory),
        scaffold=scaffold,
        save_checkpoint_steps=save_steps,
        max_to_keep=max_to_keep,
        hooks=[km.StopAtStepHook(last_step=last_step), *hooks],
    ) as sess:
        while not sess.should_stop():
            sess.run(step)
    return model, optimizer


def test_files_are_numbered_by_global_step_and_found_by_tf(tmp_path):
    train(tmp_path, last_step=7)
    assert checkpoint_steps(tmp_path) == [0, 3, 6, 7]
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(
        tmp_path / "model.ckpt-7"
    )
    assert os.path.exists(tmp_path / "model.ckpt-7.index")


def test_max_to_keep_is_honoured_across_restarts(tmp_path):
    train(tmp_path, last_step=10, save_steps=2, max_to_keep=3)
    assert checkpoint_steps(tmp_path) == [6, 8, 10]
    km.reset_global_step()
    train(tmp_path, last_step=14, save_steps=2, max_to_keep=3)
    assert checkpoint_steps(tmp_path) == [10, 12, 14]


def test_restart_restores_model_optimizer_and_global_step(tmp_path):
    model, optimizer = train(tmp_path, last_step=5)
    expected = [w.copy() for w in model.get_weights()]
    expected_iterations = int(optimizer.iterations.numpy())
    km.reset_global_step()
    fresh_model, fresh_optimizer, fresh_step = make_model()
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(
            model=fresh_model, optimizer=fresh_optimizer
        )
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=scaffold,
        save_checkpoint_steps=None,
        save_checkpoint_secs=None,
    ) as sess:
        assert km.get_global_step().numpy() == 5
        for got, want in zip(fresh_model.get_weights(), expected):
            np.testing.assert_array_equal(got, want)
        sess.run(fresh_step)  # optimizer slots are created now and restored
        assert (
            int(fresh_optimizer.iterations.numpy()) == expected_iterations + 1
        )


def test_user_checkpoint_object_restores_km_files(tmp_path):
    model, _ = train(tmp_path, last_step=2)
    other = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)]
    )
    tf.train.Checkpoint(model=other).restore(
        tf.train.latest_checkpoint(str(tmp_path))
    ).expect_partial()
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_init_fn_runs_only_without_a_checkpoint(tmp_path):
    calls = []
    weight = tf.Variable(0.0)
    scaffold = km.Scaffold(
        checkpoint={"w": weight},
        init_fn=lambda: (calls.append(1), weight.assign(42.0)),
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), scaffold=scaffold, save_checkpoint_steps=1
    ):
        assert weight.numpy() == 42.0
    weight.assign(0.0)
    km.reset_global_step()
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), scaffold=scaffold, save_checkpoint_steps=1
    ):
        assert weight.numpy() == 42.0  # restored, not re-initialised
    assert calls == [1]


def test_checkpoint_filename_with_path_restores_that_checkpoint(tmp_path):
    weight = tf.Variable(1.0)
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_steps=1,
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
        sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert checkpoint_steps(tmp_path) == [0, 1, 2]
    km.reset_global_step()
    with km.SingularMonitoredSession(
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        checkpoint_filename_with_path=str(tmp_path / "model.ckpt-1"),
    ) as sess:
        assert (
            weight.numpy() == 2.0 and sess.raw_session().run("global_step") == 1
        )


def test_a_save_interrupted_midway_leaves_the_previous_checkpoint_usable(
    tmp_path,
):
    weight = tf.Variable(1.0)
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_steps=1,
    ) as sess:
        sess.run(lambda: {"w": weight.assign(7.0)})
    # A crash while writing step 2: data written, no index, state file untouched.
    (tmp_path / "model.ckpt-2.data-00000-of-00001").write_bytes(b"partial")
    km.reset_global_step()
    weight.assign(0.0)
    with km.SingularMonitoredSession(
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        checkpoint_dir=str(tmp_path),
    ) as sess:
        assert (
            sess.raw_session().run("global_step") == 1 and weight.numpy() == 7.0
        )


class Counter(km.SessionRunHook):
    """A hook with resumable state."""

    def __init__(self):
        self.count = 0

    def after_run(self, run_context, run_values):
        self.count += 1

    def get_state(self):
        return {"count": self.count}

    def set_state(self, state):
        self.count = state["count"]


def test_hook_state_is_saved_and_handed_back(tmp_path):
    first = Counter()
    train(tmp_path, last_step=4, save_steps=2, hooks=[first])
    assert first.count == 4
    km.reset_global_step()
    second = Counter()
    train(tmp_path, last_step=6, save_steps=2, hooks=[second])
    assert second.count == 6


@pytest.mark.parametrize(
    "case",
    [
        # (crash after step, steps in first run's checkpoint) -> stop step on resume
        dict(
            name="crash_before_last_step_resumes_to_same_stop",
            first_last_step=None,
            expect=10,
        ),
        dict(
            name="completed_run_trains_num_steps_more",
            first_last_step=10,
            expect=20,
        ),
    ],
    ids=lambda c: c["name"],
)
def test_stop_at_step_num_steps_resume(tmp_path, case):
    weight = tf.Variable(0.0)

    def step():
        return {"w": weight.assign_add(1.0)}

    def session(hooks):
        return km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            save_checkpoint_steps=3,
            hooks=hooks,
        )

    sess = session([km.StopAtStepHook(num_steps=10)])
    if case["first_last_step"] is None:
        for _ in range(7):
            sess.run(step)
        abandon(sess)  # a crash: no end(), no final save
        assert checkpoint_steps(tmp_path)[-1] == 6
    else:
        with sess:
            while not sess.should_stop():
                sess.run(step)
    km.reset_global_step()
    hook = km.StopAtStepHook(num_steps=10)
    with session([hook]) as sess:
        while not sess.should_stop():
            sess.run(step)
    assert hook.last_step == case["expect"]
    assert km.get_global_step().numpy() == case["expect"]


def test_tf1_checkpoint_saver_hook_with_tf_checkpoint_saver(tmp_path):
    weight = tf.Variable(5.0)
    hook = tf.compat.v1.train.CheckpointSaverHook(
        str(tmp_path),
        save_steps=2,
        saver=tf.train.Checkpoint(w=weight),
        checkpoint_basename="tf1.ckpt",
    )
    with km.MonitoredSession(
        hooks=[hook, km.StopAtStepHook(last_step=3)]
    ) as sess:
        while not sess.should_stop():
            sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(
        tmp_path / "tf1.ckpt-3"
    )
    reader = tf.train.load_checkpoint(str(tmp_path / "tf1.ckpt-2"))
    assert reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE") == 7.0
    assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 2


def _tf1_run(directory, steps=(10, 20)):
    """A TF1 Saver run: `w` = step / 10 at each saved step."""
    with tf.Graph().as_default():
        weight = tf.compat.v1.get_variable("w", initializer=0.0)
        global_step = tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver = tf.compat.v1.train.Saver()
            for step in steps:
                session.run(
                    [weight.assign(step / 10), global_step.assign(step)]
                )
                saver.save(session, os.path.join(directory, "model.ckpt"), step)


def _files(directory):
    return {
        name: os.path.getmtime(os.path.join(directory, name))
        for name in os.listdir(directory)
    }


def test_a_moved_run_directory_is_restored_from_its_own_files(tmp_path):
    """TF1's 'checkpoint' file names absolute paths: after a move, TF finds
    nothing, and a session would start fresh and overwrite the files."""
    original, moved = tmp_path / "run", tmp_path / "moved"
    original.mkdir()
    _tf1_run(str(original))
    os.rename(original, moved)
    weight = tf.Variable(0.0, name="w")
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(moved),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_secs=None,
        save_summaries_steps=None,
        log_step_count_steps=None,
    ) as sess:
        assert sess.run("global_step") == 20
    assert weight.numpy() == 2.0


def test_checkpoint_files_no_checkpoint_file_names_are_refused(tmp_path):
    _tf1_run(str(tmp_path))
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "/elsewhere/model.ckpt-5"\n'
    )
    before = _files(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"holds checkpoint files \['model\.ckpt-10', 'model\.ckpt-20'\] "
        r"but its 'checkpoint' file names \['model\.ckpt-5'\].*overwrite",
    ):
        km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint={"w": tf.Variable(0.0, name="w")}),
        )
    assert _files(tmp_path) == before
