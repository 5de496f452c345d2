"""Strict object-based restores (keras_monitored/_restore.py): a checkpoint
that leaves a variable of the scaffold without a value is refused, naming it,
once lazily built variables exist and before any hook's after_run."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines


def make_model(extra_layer=False, built=True):
    layers = [
        keras.layers.Dense(2, name="hidden"),
        keras.layers.Dense(1, name="out"),
    ]
    if extra_layer:
        layers.append(keras.layers.Dense(1, name="extra"))
    if built:
        layers.insert(0, keras.Input((3,)))
    return keras.Sequential(layers, name="net")


def train_step(model, optimizer):
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(tf.ones((4, 3))) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return step


class AfterRunRecorder(km.SessionRunHook):
    def __init__(self):
        self.after_runs = 0

    def after_run(self, run_context, run_values):
        self.after_runs += 1


def session(directory, model, optimizer, last_step, **scaffold_kwargs):
    km.reset_global_step()
    recorder = AfterRunRecorder()
    sess = km.MonitoredTrainingSession(
        checkpoint_dir=str(directory),
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer),
            **scaffold_kwargs,
        ),
        save_checkpoint_steps=1,
        hooks=[km.StopAtStepHook(last_step=last_step), recorder],
    )
    return sess, recorder


def train(directory, model, optimizer, last_step, **scaffold_kwargs):
    sess, recorder = session(
        directory, model, optimizer, last_step, **scaffold_kwargs
    )
    with sess:
        step = train_step(model, optimizer)
        while not sess.should_stop():
            sess.run(step)
    return recorder


def files(directory):
    """Names and modification times: what a refused restore must not touch."""
    return {
        name: os.stat(os.path.join(directory, name)).st_mtime_ns
        for name in os.listdir(directory)
    }


def checkpoint_files(directory):
    """`files` without the summaries' event files (the session writes those
    from its start, before any step)."""
    return {
        name: mtime
        for name, mtime in files(directory).items()
        if not name.startswith("events.out")
    }


@pytest.fixture
def sgd_checkpoint(tmp_path):
    """A checkpoint at step 3 of the 'net' model trained with SGD."""
    model = make_model()
    train(tmp_path, model, keras.optimizers.SGD(0.1, name="sgd"), 3)
    return tmp_path, model


def test_a_layer_the_checkpoint_lacks_is_refused_at_creation(sgd_checkpoint):
    directory, _ = sgd_checkpoint
    before = files(directory)
    with pytest.raises(
        ValueError,
        match=r"model\.ckpt-3 left 2 of the session's variables without a "
        r"value: net/extra/kernel, net/extra/bias\..*allow_partial_restore=True",
    ):
        session(
            directory,
            make_model(extra_layer=True),
            keras.optimizers.SGD(0.1, name="sgd"),
            5,
        )
    assert files(directory) == before


def test_slots_created_by_the_first_step_are_checked_before_after_run(
    sgd_checkpoint,
):
    """Adam's slots exist only after the first apply_gradients: the check
    runs then, before any hook's after_run (the saver would save step 4)."""
    directory, _ = sgd_checkpoint
    before = checkpoint_files(directory)
    model, adam = make_model(), keras.optimizers.Adam(0.1, name="adam")
    sess, recorder = session(directory, model, adam, 5)
    with pytest.raises(
        ValueError,
        match=r"left 8 of the session's variables without a value: "
        r"adam/net_hidden_kernel_momentum, adam/net_hidden_kernel_velocity",
    ):
        with sess:
            sess.run(train_step(model, adam))
    assert recorder.after_runs == 0
    assert checkpoint_files(directory) == before


def test_allow_partial_restore_warns_naming_them_and_trains_on(sgd_checkpoint):
    directory, _ = sgd_checkpoint
    model, adam = make_model(), keras.optimizers.Adam(0.1, name="adam")
    with captured_lines(r"allow_partial_restore=True") as lines:
        recorder = train(directory, model, adam, 5, allow_partial_restore=True)
    assert recorder.after_runs == 2
    assert len(lines) == 1
    assert "left 8 variables" in lines[0]
    assert "adam/net_out_bias_velocity" in lines[0]


def test_a_model_built_at_its_first_call_gets_every_value(sgd_checkpoint):
    """No false alarm: TF assigns the values of variables created by the
    first step, and the check waits for them."""
    directory, trained = sgd_checkpoint
    fresh = make_model(built=False)
    sgd = keras.optimizers.SGD(0.1, name="sgd")
    sess, _ = session(directory, fresh, sgd, 4)
    with sess:
        assert not fresh.built
        # The update is linear in the restored weights: compare with the
        # trained model after the same update.
        sess.run(train_step(fresh, sgd))
    expected_step = train_step(trained, keras.optimizers.SGD(0.1))
    expected_step()
    for got, want in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_an_unbuilt_model_the_checkpoint_lacks_is_refused_after_the_first_step(
    tmp_path,
):
    weight = tf.Variable(1.0)
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_steps=1,
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
    before = checkpoint_files(tmp_path)
    km.reset_global_step()
    model = make_model(built=False)
    recorder = AfterRunRecorder()
    sess = km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight, "model": model}),
        save_checkpoint_steps=1,
        hooks=[recorder],
    )
    assert weight.numpy() == 2.0  # what exists is restored at creation
    with pytest.raises(
        ValueError,
        match=r"model\.ckpt-1 left 4 of the session's variables without a "
        r"value: net/hidden/kernel, net/hidden/bias, net/out/kernel, "
        r"net/out/bias",
    ):
        with sess:
            sess.run(lambda: {"y": model(tf.ones((1, 3)))})
    assert recorder.after_runs == 0
    assert checkpoint_files(tmp_path) == before


def test_a_checkpoint_written_before_the_first_step_resumes_with_a_warning(
    tmp_path,
):
    """MTS saves when a fresh run starts (step 0), before the first step
    creates Adam's slots; resuming from it is no partial restore (the slots
    had their initial values then), so it warns instead."""
    model, adam = make_model(), keras.optimizers.Adam(0.1, name="adam")
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"model": model, "optimizer": adam}),
        save_checkpoint_steps=1,
    ):
        pass  # a crash right after the start
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-0")
    weights = model.get_weights()
    model, adam = make_model(), keras.optimizers.Adam(0.1, name="adam")
    with captured_lines(r"written at global step 0") as lines:
        recorder = train(tmp_path, model, adam, 2)
    assert recorder.after_runs == 2
    assert len(lines) == 1 and "adam/net_hidden_kernel_momentum" in lines[0]
    assert not np.allclose(model.get_weights()[0], weights[0])  # it trained


def test_checkpoint_values_nothing_takes_are_logged_once(tmp_path):
    weight = tf.Variable(1.0)
    unused = {f"old_{i:02d}": tf.Variable(float(i)) for i in range(22)}
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight, **unused}),
        save_checkpoint_steps=1,
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
    with captured_lines(r"match nothing in the session") as lines:
        for _ in range(2):  # the same checkpoint restored twice
            km.reset_global_step()
            with km.MonitoredTrainingSession(
                checkpoint_dir=str(tmp_path),
                scaffold=km.Scaffold(checkpoint={"w": weight}),
                save_checkpoint_steps=None,
                save_checkpoint_secs=None,
            ) as sess:
                sess.run(lambda: {"w": weight + 0.0})
    assert len(lines) == 1
    assert lines[0].startswith("22 checkpoint values in checkpoint")
    assert "old_00, old_01" in lines[0]
    assert lines[0].endswith("old_19, ... and 2 more")  # truncated


def test_hook_state_and_save_counter_are_not_scaffold_variables(tmp_path):
    """A checkpoint written by a plain tf.train.Checkpoint has neither km's
    hook state nor its save counter: still a complete restore."""
    weight = tf.Variable(3.0)
    step = tf.Variable(4, dtype=tf.int64)
    path = tf.train.Checkpoint(w=weight, global_step=step).write(
        str(tmp_path / "plain" / "ckpt-4")
    )
    weight.assign(0.0)
    with km.SingularMonitoredSession(
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        checkpoint_filename_with_path=path,
    ) as sess:
        sess.run(lambda: {"w": weight + 0.0})
        assert weight.numpy() == 3.0
        assert sess.raw_session().run("global_step") == 5


def test_a_checkpoint_without_the_global_step_is_refused(tmp_path):
    weight = tf.Variable(3.0)
    path = tf.train.Checkpoint(w=weight).write(str(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match=r"without a value: global_step\."):
        km.SingularMonitoredSession(
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            checkpoint_filename_with_path=path,
        )


def test_recovery_restores_again_and_verifies_again(tmp_path):
    """A recovered session restores the latest checkpoint again: a partial
    one written meanwhile is refused, not trained on."""
    weight, other = tf.Variable(1.0), tf.Variable(1.0)
    scaffold = km.Scaffold(checkpoint={"w": weight, "other": other})

    def step():
        return {"w": weight.assign_add(1.0), "o": other.assign_add(1.0)}

    class FailOnce(km.SessionRunHook):
        """Someone else's checkpoint (only `w`) lands as the latest, then
        the session fails in a way MonitoredSession recovers from."""

        def __init__(self):
            self.runs = 0

        def before_run(self, run_context):
            self.runs += 1
            if self.runs == 2:
                tf.train.Checkpoint(
                    w=tf.Variable(9.0),
                    global_step=tf.Variable(7, dtype=tf.int64),
                ).write(str(tmp_path / "model.ckpt-7"))
                (tmp_path / "checkpoint").write_text(
                    'model_checkpoint_path: "model.ckpt-7"\n'
                )
                raise tf.errors.AbortedError(None, None, "preempted")

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=scaffold,
        save_checkpoint_steps=1,
        hooks=[FailOnce()],
    ) as sess:
        sess.run(step)
        with pytest.raises(
            ValueError,
            match=r"model\.ckpt-7 left 1 of the session's variables without "
            r"a value: other\.",
        ):
            sess.run(step)


def test_allow_partial_restore_must_be_a_bool():
    with pytest.raises(TypeError, match=r"allow_partial_restore='yes'"):
        km.Scaffold(allow_partial_restore="yes")
    with pytest.raises(TypeError):
        km.Scaffold(None, None, None, True)  # keyword-only


def test_fit_verifies_the_restore_after_the_first_batch(tmp_path):
    """Inside model.fit the model and the optimizer are built by the first
    batch; HookCallback verifies the restore then, before hooks' after_run."""
    x = np.ones((16, 3), np.float32)

    def fit(optimizer, recorder):
        model = make_model(built=False)
        model.compile(optimizer=optimizer, loss="mse")
        hooks = [
            km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=2),
            recorder,
        ]
        model.fit(
            x,
            x[:, :1],
            batch_size=4,
            epochs=1,
            verbose=0,
            callbacks=[km.HookCallback(hooks)],
        )

    fit(keras.optimizers.SGD(0.1, name="sgd"), AfterRunRecorder())
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-4")
    before = checkpoint_files(tmp_path)
    recorder = AfterRunRecorder()
    with pytest.raises(
        ValueError,
        match=r"model\.ckpt-4 left 8 of the session's variables without a "
        r"value: adam/net_hidden_kernel_momentum.*another directory, or pass "
        r"km\.HookCallback\(\.\.\., restore=False\)",
    ):
        fit(keras.optimizers.Adam(0.1, name="adam"), recorder)
    assert recorder.after_runs == 0
    assert checkpoint_files(tmp_path) == before
