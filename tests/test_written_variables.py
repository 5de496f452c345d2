"""Trainable variables the step updates that the checkpoint does not reach
(keras_monitored/_written_variables.py): with a checkpoint_dir, refused at
the first step, before it runs, naming them and the Scaffold fix."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines

FIX = r"km\.Scaffold\(checkpoint=tf\.train\.Checkpoint\(model=\.\.\., optimizer=\.\.\.\)\)"


def make_model():
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, name="dense")], name="net"
    )


def keras_step(model, optimizer):
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(batch) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return step


def batches(strategy=None):
    dataset = tf.data.Dataset.from_tensors(tf.ones((4, 3))).repeat()
    if strategy is not None:
        dataset = strategy.experimental_distribute_dataset(dataset)
    return iter(dataset)


def test_a_model_left_out_of_the_scaffold_is_refused_before_the_step_runs(
    tmp_path,
):
    """The TF1 habit: TF1's Saver saved every variable, so the Scaffold
    named none. In TF2 the model would train, never be saved, and restart
    from random weights on resume."""
    model, optimizer = make_model(), keras.optimizers.SGD(0.1)
    initial = model.get_weights()
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), save_checkpoint_steps=1
    ) as sess:
        with pytest.raises(
            ValueError,
            match=r"updates trainable variables that the session's checkpoint "
            r"does not include: net/dense/bias \[1\] float32, "
            r"net/dense/kernel \[3, 1\] float32\..*" + FIX,
        ):
            sess.run(
                keras_step(model, optimizer), feed_dict={"batch": batches()}
            )
        assert km.get_global_step().numpy() == 0
    for got, want in zip(model.get_weights(), initial):
        np.testing.assert_array_equal(got, want)  # the step never ran


def test_only_unreached_trainable_writes_are_refused(tmp_path):
    """Named: a trainable variable assigned outside the checkpoint. Not
    named: one only read, one not trainable, BatchNorm's moving statistics,
    a Keras metric, optimizer slots and iterations, km's global step."""
    saved, unsaved = (
        tf.Variable(1.0, name="saved"),
        tf.Variable(1.0, name="unsaved"),
    )
    read_only = tf.Variable(2.0, name="read_only")
    counter = tf.Variable(0, trainable=False, name="counter")
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2),
            keras.layers.BatchNormalization(),
        ]
    )
    optimizer = keras.optimizers.Adam(0.1)
    metric = keras.metrics.Mean()

    def step():
        with tf.GradientTape() as tape:
            loss = (
                tf.reduce_mean(model(tf.ones((4, 3)), training=True))
                * read_only
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        metric.update_state(loss)
        counter.assign_add(1)
        saved.assign_add(1.0)
        unsaved.assign_sub(1.0)
        return {"loss": loss}

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(
            checkpoint={"model": model, "optimizer": optimizer, "saved": saved}
        ),
        save_checkpoint_steps=None,
        save_checkpoint_secs=None,
    ) as sess:
        with pytest.raises(
            ValueError, match=r"does not include: unsaved \[\] float32\. "
        ):
            sess.run(step)


@pytest.mark.parametrize(
    "make_session",
    [
        pytest.param(
            lambda d, s: km.MonitoredTrainingSession(
                checkpoint_dir=d, scaffold=s
            ),
            id="monitored_training_session",
        ),
        pytest.param(
            lambda d, s: km.SingularMonitoredSession(
                checkpoint_dir=d, scaffold=s
            ),
            id="singular_monitored_session",
        ),
        pytest.param(
            lambda d, s: km.MonitoredSession(
                km.ChiefSessionCreator(scaffold=s, checkpoint_dir=d)
            ),
            id="chief_session_creator",
        ),
        pytest.param(
            lambda d, s: km.MonitoredSession(
                km.WorkerSessionCreator(
                    scaffold=s, checkpoint_dir=d, max_wait_secs=0
                )
            ),
            id="worker_session_creator",
        ),
    ],
)
def test_every_session_with_a_checkpoint_dir_checks(tmp_path, make_session):
    weight = tf.Variable(1.0, name="weight")
    scaffold = km.Scaffold(checkpoint={"weight": weight})
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), scaffold=scaffold
    ):
        pass  # the chief's first checkpoint, for the worker to find
    km.reset_global_step()
    bias = tf.Variable(0.0, name="bias")
    with make_session(str(tmp_path), scaffold) as sess:
        with pytest.raises(ValueError, match=r"does not include: bias \[\]"):
            sess.run(lambda: {"b": bias.assign_add(weight)})


def test_without_a_checkpoint_dir_nothing_is_checked():
    bias = tf.Variable(0.0)
    with km.MonitoredSession() as sess:
        sess.run(lambda: {"b": bias.assign_add(1.0)})
    assert bias.numpy() == 1.0


def test_mirrored_strategy_names_each_variable_once(tmp_path, mirrored):
    with mirrored.scope():
        model, optimizer = make_model(), keras.optimizers.SGD(0.1)
        extra = tf.Variable(1.0, name="extra")
    step = keras_step(model, optimizer)

    def with_extra(batch):
        extra.assign_add(1.0)
        return step(batch)

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        strategy=mirrored,
        save_checkpoint_steps=None,
        save_checkpoint_secs=None,
    ) as sess:
        with pytest.raises(
            ValueError,
            match=r"does not include: extra \[\] float32, net/dense/bias "
            r"\[1\] float32, net/dense/kernel \[3, 1\] float32\. ",
        ):
            sess.run(with_extra, feed_dict={"batch": batches(mirrored)})
    # Once they are in the checkpoint (the optimizer, once built, tracks the
    # model's variables too), the same step passes under the strategy.
    km.reset_global_step()
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path / "ok"),
        scaffold=km.Scaffold(
            checkpoint={"optimizer": optimizer, "extra": extra}
        ),
        strategy=mirrored,
        save_checkpoint_steps=None,
        save_checkpoint_secs=None,
    ) as sess:
        sess.run(with_extra, feed_dict={"batch": batches(mirrored)})


def test_steps_per_loop_checks_the_looped_step(tmp_path):
    """The first call runs the multi-step function (a tf.while_loop around
    the step): its writes are found inside the loop body."""
    model, optimizer = make_model(), keras.optimizers.SGD(0.1)
    loop_sizes = []

    class LoopSize(km.SessionRunHook):
        def before_run(self, run_context):
            loop_sizes.append(run_context.num_steps)

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        steps_per_loop=4,
        save_checkpoint_steps=None,
        save_checkpoint_secs=None,
        log_step_count_steps=None,
        save_summaries_steps=None,
        hooks=[LoopSize()],
    ) as sess:
        with pytest.raises(
            ValueError, match=r"does not include: net/dense/bias"
        ):
            sess.run(
                keras_step(model, optimizer), feed_dict={"batch": batches()}
            )
        assert km.get_global_step().numpy() == 0
    assert loop_sizes == [4]


def test_allow_partial_restore_warns_once_per_compiled_step(tmp_path):
    bias = tf.Variable(0.0, name="bias")
    with captured_lines(r"allow_partial_restore=True") as lines:
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(allow_partial_restore=True),
            steps_per_loop=2,
            hooks=[km.StopAtStepHook(last_step=6)],
        ) as sess:
            while not sess.should_stop():
                sess.run(lambda: {"b": bias.assign_add(1.0)})
    assert bias.numpy() == 6.0
    assert len(lines) == 1 and "does not include: bias []" in lines[0]


def loop_step(bias):
    def step(n):
        for _ in tf.range(n):  # autograph: a tf.while_loop
            bias.assign_add(1.0)
        return {}

    return step


def cond_step(bias):
    def step(n):
        if n > 0:  # autograph: a tf.cond
            bias.assign_add(1.0)
        return {}

    return step


@pytest.mark.parametrize("make_step", [loop_step, cond_step])
def test_writes_inside_the_steps_own_control_flow_are_found(
    tmp_path, make_step
):
    bias = tf.Variable(0.0, name="bias")
    with km.MonitoredTrainingSession(checkpoint_dir=str(tmp_path)) as sess:
        with pytest.raises(ValueError, match=r"does not include: bias \[\]"):
            sess.run(make_step(bias), feed_dict={"n": tf.constant(3)})
    assert bias.numpy() == 0.0


def test_a_checkpoint_saver_hook_of_the_session_checkpoint_is_checked_too(
    tmp_path,
):
    """No checkpoint_dir on the session, but a CheckpointSaverHook saving
    the session's checkpoint (TF1: its default Saver saved everything)."""
    model, optimizer = make_model(), keras.optimizers.SGD(0.1)
    saver = km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=1)
    with km.MonitoredSession(hooks=[saver]) as sess:
        with pytest.raises(ValueError, match=r"net/dense/kernel.*" + FIX):
            sess.run(
                keras_step(model, optimizer), feed_dict={"batch": batches()}
            )
    # A hook given a saver of its own chooses what it saves: not refused.
    own = km.hooks.CheckpointSaverHook(
        str(tmp_path / "own"),
        save_steps=1,
        saver=tf.train.Checkpoint(model=model, optimizer=optimizer),
    )
    with km.MonitoredSession(hooks=[own]) as sess:
        sess.run(keras_step(model, optimizer), feed_dict={"batch": batches()})
    assert tf.train.latest_checkpoint(str(tmp_path / "own")).endswith("-1")
