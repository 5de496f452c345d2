"""StepCounterHook and SummarySaverHook: event files read back with TF1's
summary_iterator."""

from __future__ import annotations

import glob
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from keras_monitored import _summary_writers as summary_writers
from tests.crash import abandon
from tests.test_timer import FakeClock

tf1 = tf.compat.v1


def read_events(logdir):
    """[(step, tag, value)] of scalar summaries, and session-log START steps."""
    summary_writers.flush()
    scalars, starts = [], []
    for path in sorted(
        glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    ):
        for event in tf1.train.summary_iterator(path):
            if (
                event.HasField("session_log")
                and event.session_log.status == event.session_log.START
            ):
                starts.append(event.step)
            for value in event.summary.value:
                if value.HasField("tensor"):
                    array = tf.make_ndarray(value.tensor)
                    if array.ndim == 0:
                        scalars.append((event.step, value.tag, float(array)))
                elif value.HasField("simple_value"):
                    scalars.append((event.step, value.tag, value.simple_value))
    return sorted(scalars), starts


def noop_step():
    return {}


def test_step_counter_writes_and_logs_steps_per_second(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    hook = km.hooks.StepCounterHook(
        every_n_steps=2, output_dir=str(tmp_path), clock=clock
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(7):
            clock.now += 0.25  # 4 steps/sec
            sess.run(noop_step)
    scalars, _ = read_events(str(tmp_path))
    # First trigger (step 1) starts the clock; then steps 3, 5, 7 (TF1's).
    assert scalars == [
        (3, "global_step/sec", 4.0),
        (5, "global_step/sec", 4.0),
        (7, "global_step/sec", 4.0),
    ]
    assert "global_step/sec: 4" in caplog.text


def test_step_counter_rate_counts_steps_not_runs(tmp_path):
    clock = FakeClock()
    hook = km.hooks.StepCounterHook(
        every_n_steps=10, output_dir=str(tmp_path), clock=clock
    )
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=5), hooks=[hook]
    ) as sess:
        for _ in range(4):
            clock.now += 1.0  # one 5-step loop per second
            sess.run(noop_step)
    scalars, _ = read_events(str(tmp_path))
    assert scalars == [(11, "global_step/sec", 5.0)]


def step_with_summaries():
    weight = tf.Variable(2.0)

    def step():
        loss = weight * 3.0
        tf.summary.scalar("loss", loss)
        tf.summary.histogram("weights", tf.stack([weight, weight]))
        weight.assign_sub(0.5)
        return {"loss": loss}

    # What a session with a checkpoint_dir must save: the step trains it.
    step.scaffold = km.Scaffold(checkpoint={"weight": weight})
    return step


def test_summary_saver_records_the_steps_tf_summary_calls(tmp_path):
    hook = km.hooks.SummarySaverHook(save_steps=3, output_dir=str(tmp_path))
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(10):
            sess.run(step_with_summaries_step)
    scalars, starts = read_events(str(tmp_path))
    losses = [(step, value) for step, tag, value in scalars if tag == "loss"]
    # First step, then every 3 steps; step = global step after the step (TF1).
    assert losses == [(1, 6.0), (4, 1.5), (7, -3.0), (10, -7.5)]
    assert starts == [1]
    histograms = [
        event.step
        for path in glob.glob(
            os.path.join(str(tmp_path), "events.out.tfevents.*")
        )
        for event in tf1.train.summary_iterator(path)
        for value in event.summary.value
        if value.tag == "weights"
    ]
    assert sorted(histograms) == [1, 4, 7, 10]


step_with_summaries_step = None


@pytest.fixture(autouse=True)
def _fresh_step():
    global step_with_summaries_step
    step_with_summaries_step = step_with_summaries()
    yield


def test_summary_saver_with_summary_op_writes_named_outputs(tmp_path):
    hook = km.hooks.SummarySaverHook(
        save_steps=2, output_dir=str(tmp_path), summary_op=["loss"]
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(4):
            sess.run(step_with_summaries_step)
    scalars, _ = read_events(str(tmp_path))
    assert scalars == [(1, "loss", 6.0), (3, "loss", 3.0)]


def test_summary_saver_seconds_with_injected_clock(tmp_path):
    clock = FakeClock()
    hook = km.hooks.SummarySaverHook(
        save_secs=10, output_dir=str(tmp_path), clock=clock
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        for seconds in [0, 4, 4, 4, 4, 4, 4]:
            clock.now += seconds
            sess.run(step_with_summaries_step)
    scalars, _ = read_events(str(tmp_path))
    assert [step for step, tag, _ in scalars if tag == "loss"] == [1, 4, 7]


def test_monitored_training_session_default_summaries(tmp_path):
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=step_with_summaries_step.scaffold,
        save_summaries_steps=5,
        log_step_count_steps=5,
        save_checkpoint_secs=None,
        hooks=[km.StopAtStepHook(last_step=11)],
    ) as sess:
        assert [type(h).__name__ for h in sess.hooks] == [
            "StepCounterHook",
            "SummarySaverHook",
            "StopAtStepHook",
        ]
        while not sess.should_stop():
            sess.run(step_with_summaries_step)
    scalars, starts = read_events(str(tmp_path))
    assert [s for s, tag, _ in scalars if tag == "loss"] == [1, 6, 11]
    assert [s for s, tag, _ in scalars if tag == "global_step/sec"] == [6, 11]
    assert starts == [1]


def test_summary_dir_and_default_hook_order(tmp_path):
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path / "ckpt"),
        summary_dir=str(tmp_path / "tb"),
        scaffold=step_with_summaries_step.scaffold,
    ) as sess:
        names = [type(h).__name__ for h in sess.hooks]
        sess.run(step_with_summaries_step)
    assert names == [
        "StepCounterHook",
        "SummarySaverHook",
        "CheckpointSaverHook",
    ]
    assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert not glob.glob(str(tmp_path / "ckpt" / "events.out.tfevents.*"))


def test_two_summary_dirs_for_the_steps_calls_is_an_error(tmp_path):
    hooks = [
        km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path / d))
        for d in "ab"
    ]
    with pytest.raises(ValueError, match="already go to"):
        km.MonitoredSession(hooks=hooks)


def test_restart_session_start_lets_tensorboard_drop_stale_points(tmp_path):
    weight = tf.Variable(0.0)

    def step():
        tf.summary.scalar("w", weight)
        weight.assign_add(1.0)
        return {}

    def session():
        return km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            save_checkpoint_steps=3,
            save_summaries_steps=1,
            log_step_count_steps=None,
        )

    sess = session()
    for _ in range(5):
        sess.run(step)
    abandon(sess)  # a crash after step 5: the last checkpoint is step 3
    km.reset_global_step()
    with session() as sess:
        for _ in range(2):
            sess.run(step)
    _, starts = read_events(str(tmp_path))
    assert starts == [1, 4]  # the restart announces itself at step 4


def test_summary_saver_without_scaffold_or_op_is_fine_in_tf2():
    with pytest.raises(
        ValueError,
        match="Exactly one of scaffold or summary_op must be provided.",
    ):
        tf1.train.SummarySaverHook(save_steps=1)
    km.hooks.SummarySaverHook(save_steps=1)


@pytest.mark.parametrize(
    "factory, kwargs, error, message",
    [
        pytest.param(
            "StepCounterHook",
            dict(summary_writer="w"),
            TypeError,
            "summary_writer='w'",
            id="writer",
        ),
        pytest.param(
            "StepCounterHook",
            dict(output_dir=5),
            TypeError,
            "output_dir=5",
            id="output_dir",
        ),
        pytest.param(
            "SummarySaverHook",
            dict(save_steps=1, summary_op=[3]),
            TypeError,
            "summary_op",
            id="op_type",
        ),
        pytest.param(
            "SummarySaverHook",
            dict(save_steps=-1),
            ValueError,
            "save_steps=-1",
            id="negative",
        ),
    ],
)
def test_bad_arguments(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(km.hooks, factory)(**kwargs)


def test_histogram_for_non_scalar_named_output(tmp_path):
    hook = km.hooks.SummarySaverHook(
        save_steps=1, output_dir=str(tmp_path), summary_op="vec"
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.run(lambda: {"vec": tf.constant([1.0, 2.0, 3.0])})
    summary_writers.flush()
    tags = [
        v.tag
        for p in glob.glob(str(tmp_path / "events.out.tfevents.*"))
        for e in tf1.train.summary_iterator(p)
        for v in e.summary.value
    ]
    assert tags == ["vec"]
    assert np.isfinite(1.0)


def test_step_summaries_continue_after_in_process_recovery(tmp_path):
    fired = []

    class AbortOnce(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            if not fired and run_values.results == 2:
                fired.append(1)
                raise tf.errors.UnavailableError(None, None, "flaky")

    hook = km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path))
    with km.MonitoredSession(hooks=[hook, AbortOnce()]) as sess:
        for _ in range(3):
            sess.run(step_with_summaries_step)
    scalars, _ = read_events(str(tmp_path))
    # No checkpoint: the variables keep their values, the retried run is step 3.
    assert [s for s, tag, _ in scalars if tag == "loss"] == [1, 2, 3, 4]


def test_only_the_chief_writes_summaries_and_checkpoints(tmp_path):
    hooks = [
        km.hooks.StepCounterHook(every_n_steps=1, output_dir=str(tmp_path)),
        km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path)),
        km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=1),
    ]
    creator = km.WorkerSessionCreator(
        scaffold=step_with_summaries_step.scaffold
    )
    with km.MonitoredSession(session_creator=creator, hooks=hooks) as sess:
        for _ in range(3):
            sess.run(step_with_summaries_step)
    assert os.listdir(tmp_path) == []
