"""StepCounterHook and SummarySaverHook: event files read back with TF1's
summary_iterator."""

from __future__ import annotations

import glob
import logging
import os
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import plugin_event_accumulator

import keras_monitored as km
from tests.crash import abandon
from tests.test_timer import FakeClock

tf1 = tf.compat.v1


def read_events(logdir):
    """[(step, tag, value)] of scalar summaries, and session-log START steps,
    as on disk (read after the session closed: its `end` flushes)."""
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


def read_histograms(logdir, tag):
    """{step: [left, right, count] buckets} of the histograms of `tag`."""
    histograms = {}
    for path in sorted(
        glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    ):
        for event in tf1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    assert (
                        value.metadata.plugin_data.plugin_name == "histograms"
                    )
                    assert event.step not in histograms, event.step
                    histograms[event.step] = tf.make_ndarray(value.tensor)
    return histograms


def assert_histogram_of(buckets, data):
    """The buckets hold exactly `data`: its count, its range, and each
    non-empty bucket as many values as fall in it."""
    data = np.asarray(data, np.float64).ravel()
    assert buckets.ndim == 2 and buckets.shape[1] == 3, buckets.shape
    lefts, rights, counts = buckets[:, 0], buckets[:, 1], buckets[:, 2]
    assert counts.sum() == data.size
    assert lefts[0] == pytest.approx(data.min())
    assert rights[-1] == pytest.approx(data.max())
    for index in np.flatnonzero(counts):
        left, right = lefts[index], rights[index]
        last = index == len(counts) - 1
        inside = (data >= left - 1e-6) & (
            data <= right + 1e-6 if last or left == right else data < right
        )
        assert counts[index] == inside.sum(), (buckets[index], data)


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
    # tf.stack([weight, weight]) before the step's update: two equal values.
    histograms = read_histograms(str(tmp_path), "weights")
    assert sorted(histograms) == [1, 4, 7, 10]
    for step, weight in [(1, 2.0), (4, 0.5), (7, -1.0), (10, -2.5)]:
        assert_histogram_of(histograms[step], [weight, weight])


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
    scalars, starts = read_events(str(tmp_path / "tb"))
    assert scalars == [(1, "loss", 6.0)] and starts == [1]
    assert not glob.glob(str(tmp_path / "ckpt" / "events.out.tfevents.*"))


def test_two_summary_dirs_for_the_steps_calls_is_an_error(tmp_path):
    hooks = [
        km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path / d))
        for d in "ab"
    ]
    with pytest.raises(ValueError, match="already go to"):
        km.MonitoredSession(hooks=hooks)


def tensorboard_view(logdir, tag):
    """[(step, value)] of `tag` as TensorBoard serves it: its own loader,
    which drops the points a restart's SessionLog(START) orphans."""
    accumulator = plugin_event_accumulator.EventAccumulator(
        logdir,
        size_guidance=plugin_event_accumulator.STORE_EVERYTHING_SIZE_GUIDANCE,
    )
    accumulator.Reload()
    return [
        (event.step, float(tf.make_ndarray(event.tensor_proto)))
        for event in accumulator.Tensors(tag)
    ]


@pytest.fixture(scope="module")
def crash_then_restart(tmp_path_factory):
    """A run killed after step 14 (last checkpoint: step 8), then restarted
    for 4 steps that add 10 instead of 1. Returns TensorBoard's view of `w`
    after the crash and after the restart, and the START steps on disk."""
    logdir = str(tmp_path_factory.mktemp("crash_then_restart"))
    weight = tf.Variable(0.0)

    def step(delta):
        weight.assign_add(delta)
        tf.summary.scalar("w", weight)  # the step's own value
        return {}

    def session():
        return km.MonitoredTrainingSession(
            checkpoint_dir=logdir,
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            save_checkpoint_steps=8,
            save_summaries_steps=1,
            log_step_count_steps=None,
        )

    km.reset_global_step()
    sess = session()
    for _ in range(14):
        sess.run(step, feed_dict={"delta": 1.0})
    abandon(sess)
    crashed = tensorboard_view(logdir, "w")
    km.reset_global_step()
    time.sleep(1.05 - time.time() % 1)  # event files sort by creation second
    with session() as sess:
        for _ in range(4):
            sess.run(step, feed_dict={"delta": 10.0})
    _, starts = read_events(logdir)
    km.reset_global_step()
    return crashed, starts, tensorboard_view(logdir, "w")


def test_restart_session_start_lets_tensorboard_drop_stale_points(
    crash_then_restart,
):
    crashed, starts, restarted = crash_then_restart
    # The premise: the kill left points past the checkpoint (steps 9..).
    assert crashed == [(s, float(s)) for s in range(1, len(crashed) + 1)]
    assert len(crashed) > 8, crashed
    # The restart resumes w=8 at step 8 and announces itself at step 9, so
    # TensorBoard drops the crashed run's points from step 9 on.
    assert starts[-1] == 9
    assert [point for point in restarted if point[0] != 9] == [
        (s, float(s)) for s in range(1, 9)
    ] + [(10, 28.0), (11, 38.0), (12, 48.0)]
    assert (9, 9.0) not in restarted


def test_tensorboard_serves_the_restarts_first_point(crash_then_restart):
    """SessionLog(START) goes before the first step's own summaries (TF1
    wrote it before that step's summaries too): TensorBoard's purge keeps
    the restarted run's first point."""
    _, _, restarted = crash_then_restart
    assert [point for point in restarted if point[0] == 9] == [(9, 18.0)]


def test_summary_saver_without_scaffold_or_op_is_fine_in_tf2(tmp_path):
    with pytest.raises(
        ValueError,
        match="Exactly one of scaffold or summary_op must be provided.",
    ):
        tf1.train.SummarySaverHook(save_steps=1, output_dir=str(tmp_path))
    # The same arguments in km: the step's tf.summary calls are recorded.
    hook = km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path))
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(2):
            sess.run(step_with_summaries_step)
    scalars, starts = read_events(str(tmp_path))
    assert scalars == [(1, "loss", 6.0), (2, "loss", 4.5)]
    assert starts == [1]


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
        save_steps=2, output_dir=str(tmp_path), summary_op=["vec", "loss"]
    )
    scale = tf.Variable(0.0)

    def step():
        scale.assign_add(1.0)
        return {
            "vec": tf.constant([1.0, 2.0, 2.0, 7.0]) * scale,
            "loss": scale * 0.5,
        }

    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(3):
            sess.run(step)
    # Steps 1 and 3 (first, then every 2): the step's own vector each time.
    histograms = read_histograms(str(tmp_path), "vec")
    assert sorted(histograms) == [1, 3]
    assert_histogram_of(histograms[1], [1.0, 2.0, 2.0, 7.0])
    assert_histogram_of(histograms[3], [3.0, 6.0, 6.0, 21.0])
    scalars, _ = read_events(str(tmp_path))
    assert scalars == [(1, "loss", 0.5), (3, "loss", 1.5)]


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
