"""Hooks written the TF1 way (subclasses of tf.compat.v1.train's classes, TF1
idioms), run unchanged under km: what they see is what TF1 gave them, or an
error that says why not -- never a silent wrong value."""

from __future__ import annotations

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km

tf1 = tf.compat.v1


class StepFromStaleRead(tf1.train.SessionRunHook):
    """StopAtStepHook's own idiom: fetch the global step variable, add one."""

    def __init__(self):
        self.steps = []

    def begin(self):
        self._global_step_tensor = tf1.train.get_global_step()
        if self._global_step_tensor is None:
            raise RuntimeError("Global step should be created.")

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self._global_step_tensor)

    def after_run(self, run_context, run_values):
        self.steps.append(int(run_values.results) + 1)


def weight_step(weight):
    def step():
        weight.assign_add(1.0)
        return {"w": weight.read_value()}

    return step


def test_results_plus_one_idiom_with_the_default_global_step():
    """TF1's graph read gave the value before the step (checked on TF 2.21:
    0, 1, 2 over three runs), then 3 on a read-only run."""
    hook = StepFromStaleRead()
    weight = tf.Variable(0.0)
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(3):
            sess.run(weight_step(weight))
        sess.run("w")  # a read-only run: the hooks run, no step
    assert hook.steps == [1, 2, 3, 4]


def test_results_plus_one_idiom_with_the_optimizers_iterations():
    """`Scaffold(global_step=optimizer.iterations)`, as the migration guide
    recommends: TF1's get_global_step() finds it while the session is open,
    and it is the variable the step advances."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.1)
    before = tf1.train.get_global_step()

    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.ones((1, 2))) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    hook = StepFromStaleRead()
    scaffold = km.Scaffold(global_step=optimizer.iterations)
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(scaffold=scaffold),
        hooks=[hook],
    ) as sess:
        registered = tf1.train.get_global_step()
        for _ in range(3):
            sess.run(train_step)
        sess.run("loss")
    assert registered is optimizer.iterations.value
    assert hook.steps == [1, 2, 3, 4]
    assert int(optimizer.iterations.numpy()) == 3
    assert tf1.train.get_global_step() is before  # put back at close


class ResetInBegin(tf1.train.SessionRunHook):
    """Builds an assign op in begin() and runs it on every step (TF1)."""

    def begin(self):
        self._reset = tf1.assign(tf1.train.get_global_step(), 0)

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self._reset)


class MeanInBegin(tf1.train.SessionRunHook):
    """Builds a computed tensor in begin() and fetches it every step."""

    def begin(self):
        self._constant = tf.reduce_mean(tf.ones([3]))

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs({"mean": self._constant})


@pytest.mark.parametrize(
    "hook, message",
    [
        pytest.param(
            ResetInBegin(),
            r"Fetch <tf\.Variable.*is the result of an assign that ran once, "
            r"eagerly.*fetching it would read the variable instead",
            id="assign-op",
        ),
        pytest.param(
            MeanInBegin(),
            r"Fetch <tf\.Tensor: shape=\(\), dtype=float32, numpy=1\.0> is an "
            r"eager tensor: a value computed once, outside the step.*constant "
            r"forever.*step-output name.*tf\.Variable.*zero-argument callable",
            id="computed-tensor",
        ),
    ],
)
def test_ops_built_in_begin_are_refused_naming_them(hook, message):
    with km.MonitoredSession(hooks=[hook]) as sess:
        with pytest.raises(TypeError, match=message):
            sess.run(weight_step(tf.Variable(0.0)))


class StopWhenLossStalls(tf1.train.SessionRunHook):
    """TF1's early-stopping hooks read summaries back from the event files
    (tf.estimator.experimental.stop_if_no_decrease_hook did)."""

    def __init__(self, directory, patience):
        self.directory = directory
        self.patience = patience
        self.seen = []

    def _losses(self):
        points = {}
        for path in glob.glob(os.path.join(self.directory, "events.*")):
            for event in tf1.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.tag == "loss" and value.HasField("simple_value"):
                        points[event.step] = value.simple_value
        return [points[step] for step in sorted(points)]

    def after_run(self, run_context, run_values):
        self.seen = self._losses()
        earlier, recent = (
            self.seen[: -self.patience],
            self.seen[-self.patience :],
        )
        if earlier and min(recent) >= min(earlier) - 1e-6:
            run_context.request_stop()  # no decrease in `patience` points


def test_an_early_stopping_hook_reads_km_summaries_as_tf1s(tmp_path):
    """Scalars km's hooks write are TF1 `simple_value`s."""
    counter = tf.Variable(0.0)

    def step():
        counter.assign_add(1.0)
        # 4, 3, 2, 1, then flat at 1.
        return {"loss": tf.maximum(5.0 - counter.read_value(), 1.0)}

    saver = km.hooks.SummarySaverHook(
        save_steps=1, output_dir=str(tmp_path), summary_op=["loss"]
    )
    counter_hook = km.hooks.StepCounterHook(
        every_n_steps=2, output_dir=str(tmp_path)
    )
    stopper = StopWhenLossStalls(str(tmp_path), patience=2)
    guard = km.hooks.StopAtStepHook(last_step=20)  # if it never stops
    with km.MonitoredSession(
        hooks=[saver, counter_hook, stopper, guard]
    ) as sess:
        while not sess.should_stop():
            sess.run(step)
    assert stopper.seen == [4.0, 3.0, 2.0, 1.0, 1.0, 1.0]
    assert km.get_global_step().numpy() == 6
    rates = [
        (event.step, value.HasField("simple_value"))
        for path in glob.glob(str(tmp_path / "events.*"))
        for event in tf1.train.summary_iterator(path)
        for value in event.summary.value
        if value.tag == "global_step/sec"
    ]
    assert rates and all(simple for _, simple in rates)


class TracesSteps(tf1.train.SessionRunHook):
    def __init__(self):
        self.metadata = []

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(
            None,
            options=tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE),
        )

    def after_run(self, run_context, run_values):
        self.metadata.append(
            (run_values.options.trace_level, run_values.run_metadata)
        )


def test_full_trace_is_said_once_never_dropped_silently(caplog):
    hook = TracesSteps()
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(2):
            sess.run(weight_step(tf.Variable(0.0)))
    warnings = [
        r.getMessage()
        for r in caplog.records
        if "trace_level" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert (
        "TracesSteps asked for RunOptions(trace_level=FULL_TRACE): TF2 "
        "records no run metadata for tf.function steps" in warnings[0]
    )
    assert "km.hooks.ProfilerHook" in warnings[0]
    assert [level for level, _ in hook.metadata] == [
        tf1.RunOptions.FULL_TRACE
    ] * 2
    assert all(
        isinstance(metadata, tf1.RunMetadata) for _, metadata in hook.metadata
    )
    assert np.all([not m.step_stats.dev_stats for _, m in hook.metadata])
