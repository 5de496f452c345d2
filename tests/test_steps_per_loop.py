"""steps_per_loop: many steps per run call, ending exactly on hook triggers."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines


def counting_step():
    # The output names the step it came from: the global step after it.
    step = km.get_global_step()
    return {"step": step.read_value() + 1, "nothing": tf.constant([1, 2])}


class RunSizes(km.SessionRunHook):
    """A hook without next_trigger_step: called once per loop."""

    def __init__(self):
        self.sizes = []

    def before_run(self, run_context):
        self.sizes.append(run_context.num_steps)


def test_stop_checkpoints_and_logs_land_on_exact_steps(tmp_path):
    sizes = RunSizes()
    logger = km.hooks.LoggingTensorHook(
        {"step": "step", "global_step": "global_step"}, every_n_iter=100
    )
    with captured_lines(r"^global_step = ") as lines:
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            save_checkpoint_steps=100,
            save_summaries_steps=None,
            log_step_count_steps=None,
            steps_per_loop=64,
            max_to_keep=None,
            hooks=[km.StopAtStepHook(last_step=1000), logger, sizes],
        ) as sess:
            km.get_or_create_global_step()
            while not sess.should_stop():
                sess.run(counting_step)
    assert km.get_global_step().numpy() == 1000
    saved = sorted(
        int(n.split("-")[1].split(".")[0])
        for n in os.listdir(tmp_path)
        if n.endswith(".index")
    )
    assert saved == list(range(0, 1001, 100))
    # Iterations 0, 100, 200, ... end at global steps 1, 101, 201, ...; the
    # logged output is that very step's.
    assert lines == [
        f"global_step = {s}, step = {s}" + ("" if s == 1 else " (X sec)")
        for s in range(1, 1000, 100)
    ]
    assert max(sizes.sizes) == 64 and sum(sizes.sizes) == 1000
    assert len(sizes.sizes) < 1000 / 64 * 3


def test_no_timed_hooks_means_full_loops():
    sizes = RunSizes()
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=10), hooks=[sizes]
    ) as sess:
        for _ in range(3):
            assert (
                sess.run(counting_step)["step"] == km.get_global_step().numpy()
            )
    assert sizes.sizes == [10, 10, 10] and km.get_global_step().numpy() == 30


def test_data_running_out_mid_loop_counts_completed_steps(tmp_path):
    iterator = iter(tf.data.Dataset.range(10))
    sizes = RunSizes()

    def step(x):
        return {"x": x}

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=1000,
        steps_per_loop=4,
        save_summaries_steps=None,
        log_step_count_steps=None,
        hooks=[sizes],
    ) as sess:
        outputs = []
        while not sess.should_stop():
            outputs.append(int(sess.run(step, feed_dict={"x": iterator})["x"]))
    assert outputs == [3, 7]  # each run returns its last step's outputs
    assert km.get_global_step().numpy() == 10  # 4 + 4 + the 2 that completed
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-10")


def test_python_iterator_falls_back_to_one_step_per_call():
    sizes = RunSizes()
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=8), hooks=[sizes]
    ) as sess:
        for value in [1.0, 2.0]:
            sess.run(lambda x: {"x": x}, feed_dict={"x": iter([value])})
    assert sizes.sizes == [1, 1]


def test_steps_returning_nothing_or_python_values_loop_too():
    weight = tf.Variable(0.0)

    def update_only():
        weight.assign_add(1.0)

    def mixed():
        weight.assign_add(1.0)
        return {"lr": 0.5, "w": weight.read_value(), "nothing": None}

    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=3)
    ) as sess:
        assert sess.run(update_only) is None
        outputs = sess.run(mixed)
    assert weight.numpy() == 6.0 and km.get_global_step().numpy() == 6
    assert (
        outputs["w"] == 6.0
        and outputs["lr"] == 0.5
        and outputs["nothing"] is None
    )


def test_a_trigger_already_in_the_past_still_lets_the_others_count():
    km.get_or_create_global_step().assign(150)
    sizes = RunSizes()
    hooks = [km.StopAtStepHook(last_step=100), sizes]
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=10), hooks=hooks
    ) as sess:
        while not sess.should_stop():
            sess.run(counting_step)
    # As TF1 (and steps_per_loop=1): one step, then the stop.
    assert sizes.sizes == [1] and km.get_global_step().numpy() == 151


def test_feeding_hooks_get_every_step_or_a_clear_error():
    values = iter(range(100))
    seen = []

    def step(x):
        return {"x": x}

    sizes = RunSizes()
    feeder = km.hooks.FeedFnHook(lambda: {"x": float(next(values))})
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=4),
        hooks=[feeder, sizes],
    ) as sess:
        for _ in range(3):
            seen.append(float(sess.run(step)["x"]))
    assert seen == [0.0, 1.0, 2.0] and sizes.sizes == [1, 1, 1]

    class FeedsAnIterator(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs(None, feed_dict={"x": iter([1.0, 2.0])})

    km.reset_global_step()
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=4),
        hooks=[FeedsAnIterator()],
    ) as sess:
        with pytest.raises(
            ValueError,
            match=r"FeedsAnIterator feeds \['x'\] a Python iterator.*runs 4 steps",
        ):
            sess.run(step)
