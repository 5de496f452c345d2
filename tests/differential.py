"""A differential harness: one training scenario, run under TF1's
`tf.compat.v1.train.MonitoredTrainingSession` in graph mode and under km.

Each side builds the same tiny model (one weight fitted to y = 1 on inputs
0, 1, 2, ...), runs the same hooks and records what a recording hook sees.
Tests compare the two traces event by event.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np
import tensorflow as tf

import keras_monitored as km

tf1 = tf.compat.v1
LEARNING_RATE = 0.01


def _nan_factor(step_before, nan_at):
    """1.0, or NaN from the step whose global step (after it) is `nan_at`."""
    if nan_at is None:
        return tf.constant(1.0)
    return tf.where(
        step_before >= nan_at - 1, tf.constant(float("nan")), tf.constant(1.0)
    )


def _input_for_step(step):
    """The input of a step: a function of the global step (or example index),
    so a run restored to an earlier step sees the same data on both sides
    (TF1 rewound its in-graph iterators on recovery; km does not)."""
    return tf.cast(step % 5, tf.float32)


class Recorder(tf1.train.SessionRunHook):
    """A TF1-style hook (a subclass of TF1's class) that records its calls.

    Args:
      trace: the list events are appended to.
      fetches: what to fetch in before_run (graph tensors on the TF1 side,
        names and variables on the km side).
      global_step: what `session.run` reads for the global step.
      name: a prefix that tells several recorders apart.
    """

    def __init__(
        self, trace: list, fetches: Any, global_step: Any, name: str = "rec"
    ):
        self.trace = trace
        self.fetches = fetches
        self.global_step = global_step
        self.name = name

    def _add(self, *event):
        self.trace.append((f"{self.name}.{event[0]}",) + tuple(event[1:]))

    def begin(self):
        self._add("begin")

    def after_create_session(self, session, coord):
        assert coord is not None
        self._add("after_create_session", int(session.run(self.global_step)))

    def before_run(self, run_context):
        self._add("before_run")
        return tf1.train.SessionRunArgs(self.fetches)

    def after_run(self, run_context, run_values):
        results = {k: float(v) for k, v in sorted(run_values.results.items())}
        self._add("after_run", results)

    def end(self, session):
        self._add("end", int(session.run(self.global_step)))


class RequestStopAt(tf1.train.SessionRunHook):
    """Requests a stop once the fetched global step reaches `step`."""

    def __init__(self, global_step: Any, step: int):
        self.global_step = global_step
        self.step = step

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self.global_step)

    def after_run(self, run_context, run_values):
        if run_values.results >= self.step:
            run_context.request_stop()


class AbortOnce(tf1.train.SessionRunHook):
    """Raises AbortedError from after_run the first time the step is reached."""

    def __init__(self, global_step: Any, step: int):
        self.global_step = global_step
        self.step = step
        self.fired = False

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self.global_step)

    def after_run(self, run_context, run_values):
        if not self.fired and run_values.results >= self.step:
            self.fired = True
            raise tf.errors.AbortedError(None, None, "injected preemption")


class ListenerRecorder(tf1.train.CheckpointSaverListener):
    """A TF1 CheckpointSaverListener subclass recording its calls."""

    def __init__(self, trace: list, stop_after_save_at: int | None = None):
        self.trace = trace
        self.stop_after_save_at = stop_after_save_at

    def begin(self):
        self.trace.append(("listener.begin",))

    def before_save(self, session, global_step_value):
        self.trace.append(("listener.before_save", int(global_step_value)))

    def after_save(self, session, global_step_value):
        self.trace.append(("listener.after_save", int(global_step_value)))
        return (
            self.stop_after_save_at is not None
            and global_step_value >= self.stop_after_save_at
        )

    def end(self, session, global_step_value):
        self.trace.append(("listener.end", int(global_step_value)))


class FeedLearningRate(tf1.train.SessionRunHook):
    """Feeds a learning rate that halves every step."""

    def __init__(self, key: Any):
        self.key = key
        self.value = 0.02

    def before_run(self, run_context):
        self.value /= 2
        return tf1.train.SessionRunArgs(None, feed_dict={self.key: self.value})


class TF1Program:
    """The scenario's model in a TF1 graph."""

    kind = "tf1"

    def __init__(self):
        self.graph = tf.Graph()
        self._graph_context = None

    def build(self, num_examples=None, fail_at=None, nan_at=None):
        with self.graph.as_default():
            self.global_step = tf1.train.get_or_create_global_step()
            self.w = tf1.get_variable("w", initializer=0.5, use_resource=True)
            # One read of the global step, ordered before the increment below
            # (another read in the same run could see either value).
            step_before = tf.identity(self.global_step.read_value())
            if num_examples is None:
                x = _input_for_step(step_before)
            else:
                dataset = tf.data.Dataset.range(num_examples).map(
                    _input_for_step
                )
                x = tf1.data.make_one_shot_iterator(dataset).get_next()
            self.learning_rate = tf1.placeholder_with_default(
                tf.constant(LEARNING_RATE), []
            )
            checks = []
            if fail_at is not None:
                checks.append(
                    tf1.assert_less(
                        step_before, tf.constant(fail_at - 1, tf.int64)
                    )
                )
            with tf.control_dependencies(checks):
                w_value = self.w.read_value()
            self.loss = tf.square(w_value * x - 1.0) * _nan_factor(
                step_before, nan_at
            )
            grad = 2.0 * (w_value * x - 1.0) * x
            with tf.control_dependencies([step_before]):
                update = self.w.assign_sub(self.learning_rate * grad)
            with tf.control_dependencies([update]):
                increment = self.global_step.assign_add(1)
            with tf.control_dependencies([increment]):
                self.step_after = tf.identity(self.global_step.read_value())
                self.w_after = tf.identity(self.w.read_value())
            self.train_op = tf.group(increment)
            self.hook_fetches = {
                "loss": self.loss,
                "step": self.step_after,
                "w": self.w_after,
            }
            # Reads without side effects, safe to evaluate outside a step.
            self.state_fetches = {
                "w": tf.identity(self.w.read_value()),
                "step": tf.identity(self.global_step.read_value()),
            }

    def recorder(self, trace, name="rec"):
        return Recorder(trace, self.hook_fetches, self.global_step, name)

    def step_fetch(self):
        """Fetches the global step after this run's update (from a hook)."""
        return self.step_after

    def global_step_fetch(self):
        """Reads the global step (from `session.run`, outside a step)."""
        return self.global_step

    def lr_key(self):
        return self.learning_rate

    @contextlib.contextmanager
    def session(self, **kwargs):
        with self.graph.as_default():
            kwargs.setdefault("save_checkpoint_secs", None)
            kwargs.setdefault("save_summaries_steps", None)
            kwargs.setdefault("log_step_count_steps", None)
            with tf1.train.MonitoredTrainingSession(**kwargs) as sess:
                yield sess

    def run(self, sess, feed_learning_rate=None):
        feed = (
            {self.learning_rate: feed_learning_rate}
            if feed_learning_rate is not None
            else None
        )
        return {
            "loss": sess.run(
                {"loss": self.loss, "train": self.train_op}, feed_dict=feed
            )["loss"]
        }

    def run_with_hooks(self, step_context):
        return {
            "loss": step_context.run_with_hooks(
                {"loss": self.loss, "train": self.train_op}
            )["loss"]
        }

    def stop_at_step(self, **kwargs):
        with self.graph.as_default():
            return tf1.train.StopAtStepHook(**kwargs)

    def hook_in_graph(self, factory: Callable[[], Any]) -> Any:
        with self.graph.as_default():
            return factory()

    def hook(self, name, *args, **kwargs):
        """A TF1 standard hook, built in this program's graph."""
        with self.graph.as_default():
            return getattr(tf1.train, name)(*args, **kwargs)


class KMProgram:
    """The scenario's model as a km step function."""

    kind = "km"

    def build(self, num_examples=None, fail_at=None, nan_at=None):
        km.reset_global_step()
        self.global_step = km.get_or_create_global_step()
        self.w = tf.Variable(0.5, name="w")
        self.feeds = {}
        if num_examples is not None:
            self.feeds["x"] = iter(
                tf.data.Dataset.range(num_examples).map(_input_for_step)
            )
        w, global_step = self.w, self.global_step

        def train_step(x=None, learning_rate=LEARNING_RATE):
            if x is None:
                x = _input_for_step(global_step.read_value())
            if fail_at is not None:
                tf.debugging.assert_less(
                    global_step.read_value(), tf.constant(fail_at - 1, tf.int64)
                )
            w_value = w.read_value()
            loss = tf.square(w_value * x - 1.0) * _nan_factor(
                global_step.read_value(), nan_at
            )
            grad = 2.0 * (w_value * x - 1.0) * x
            w.assign_sub(learning_rate * grad)
            return {"loss": loss}

        self.train_step = train_step
        self.hook_fetches = {"loss": "loss", "step": "global_step", "w": self.w}
        self.state_fetches = {"w": self.w, "step": "global_step"}

    def recorder(self, trace, name="rec"):
        return Recorder(trace, self.hook_fetches, "global_step", name)

    def step_fetch(self):
        return "global_step"

    def global_step_fetch(self):
        return "global_step"

    def lr_key(self):
        return "learning_rate"

    @contextlib.contextmanager
    def session(self, **kwargs):
        kwargs.setdefault("save_checkpoint_secs", None)
        kwargs.setdefault("save_summaries_steps", None)
        kwargs.setdefault("log_step_count_steps", None)
        kwargs.setdefault("scaffold", km.Scaffold(checkpoint={"w": self.w}))
        with km.MonitoredTrainingSession(**kwargs) as sess:
            yield sess

    def run(self, sess, feed_learning_rate=None):
        feed = dict(self.feeds)
        if feed_learning_rate is not None:
            feed["learning_rate"] = feed_learning_rate
        return sess.run(self.train_step, feed_dict=feed)

    def run_with_hooks(self, step_context):
        return step_context.run_with_hooks(
            self.train_step, feed_dict=dict(self.feeds)
        )

    def stop_at_step(self, **kwargs):
        return tf1.train.StopAtStepHook(**kwargs)

    def hook_in_graph(self, factory):
        return factory()

    def hook(self, name, *args, **kwargs):
        """A TF1 standard hook built with the TF1 class (km translates it)."""
        return getattr(tf1.train, name)(*args, **kwargs)


def outcome_of(function: Callable[[], Any]) -> tuple[str, str]:
    """Runs `function`; returns ("ok", "") or (exception type name, message head)."""
    try:
        function()
    except Exception as error:  # pylint: disable=broad-except
        return type(error).__name__, str(error).split("\n")[0][:60]
    return "ok", ""


def assert_same_trace(expected: list, actual: list) -> None:
    """Event names equal; recorded numbers equal within float tolerance."""
    names_expected = [event[0] for event in expected]
    names_actual = [event[0] for event in actual]
    assert names_actual == names_expected, (
        f"call order differs:\nTF1: {names_expected}\nkm:  {names_actual}"
    )
    for left, right in zip(expected, actual):
        assert len(left) == len(right), (left, right)
        for a, b in zip(left[1:], right[1:]):
            if isinstance(a, dict):
                assert sorted(a) == sorted(b), (left, right)
                for key in a:
                    np.testing.assert_allclose(
                        b[key], a[key], rtol=1e-6, err_msg=f"{left} vs {right}"
                    )
            else:
                assert a == b, (left, right)
