"""A differential harness: one training scenario, run under TF1's
`tf.compat.v1.train.MonitoredTrainingSession` in graph mode and under km.

Each side builds the same tiny model -- three variables of different shapes
(`w` [2], `b` [], `k` [2, 2]) fitted to y = 1 on inputs that are a function
of the global step -- runs the same hooks and records what recording hooks
see. A scenario returns a result (a dict: the trace, the outcome and, where
it applies, checkpoint contents and the summaries read back from the event
files); `check_scenario` runs it on both sides and compares the results.

TF1 graph mode is nondeterministic where a graph read of a variable runs in
the same `session.run` as its update (anchors B1). The TF1 program removes
that race instead of loosening the comparison: every read a hook can fetch
during a step is ordered explicitly -- the global step read tensor of TF1's
hooks and each variable's own read (what fetching the variable returns)
before the updates, the `*_after` reads after them -- so TF1 gives one
answer, the one the contract fixes (a variable fetched through
`SessionRunArgs` is its value before the step).
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.training import training_util

import keras_monitored as km

tf1 = tf.compat.v1
LEARNING_RATE = 0.01
VARIABLES = ("w", "b", "k")
INITIAL = {
    "w": [0.5, -0.25],
    "b": 0.1,
    "k": [[1.0, 0.5], [-0.5, 0.25]],
}
# What Scaffold.init_fn assigns on a fresh start.
INIT_FN_VALUES = {
    "w": [0.25, 0.75],
    "b": -0.5,
    "k": [[0.5, 0.0], [0.0, 0.5]],
}
CHECKPOINT_BASENAME = "model.ckpt"


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
    (TF1 rewound its in-graph iterators on recovery; km does not:
    docs/tf1_to_tf2.md, Recovery, "input iterators are not rewound")."""
    return tf.cast(step % 5, tf.float32)


def forward(w, b, k, x, step_before, nan_at=None):
    """The model, identical ops on both sides.

    Returns:
      (loss, prediction, gradients {name: gradient}).
    """
    features = tf.stack([x, tf.constant(1.0)])
    hidden = tf.linalg.matvec(k, features)
    prediction = tf.reduce_sum(w * hidden) + b
    error = prediction - 1.0
    loss = tf.square(error) * _nan_factor(step_before, nan_at)
    d_prediction = 2.0 * error
    gradients = {
        "w": d_prediction * hidden,
        "b": d_prediction,
        "k": d_prediction * tf.tensordot(w, features, axes=0),
    }
    return loss, prediction, gradients


def plain(value: Any) -> Any:
    """A fetched value as plain Python (floats, nested lists, dicts)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (bytes, str)) or value is None:
        return value
    return np.asarray(value).tolist()


# -- recording hooks (TF1 subclasses: km runs them unchanged) ----------------


class Recorder(tf1.train.SessionRunHook):
    """A TF1-style hook (a subclass of TF1's class) that records its calls.

    Args:
      trace: the list events are appended to.
      fetches: what to fetch in before_run (graph tensors on the TF1 side,
        names, variables and callables on the km side).
      state: what `session.run` reads outside a step (the global step and
        every variable), recorded in after_create_session and end.
      name: a prefix that tells several recorders apart.
    """

    def __init__(self, trace: list, fetches: Any, state: Any, name="rec"):
        self.trace = trace
        self.fetches = fetches
        self.state = state
        self.name = name

    def _add(self, *event):
        self.trace.append((f"{self.name}.{event[0]}",) + tuple(event[1:]))

    def begin(self):
        self._add("begin")

    def after_create_session(self, session, coord):
        assert coord is not None
        self._add("after_create_session", plain(session.run(self.state)))

    def before_run(self, run_context):
        self._add("before_run")
        return tf1.train.SessionRunArgs(self.fetches)

    def after_run(self, run_context, run_values):
        self._add("after_run", plain(run_values.results))

    def end(self, session):
        self._add("end", plain(session.run(self.state)))


class StateAtEnd(tf1.train.SessionRunHook):
    """Records `session.run(state)` in end (the stop step, every variable)."""

    def __init__(self, values: list, state: Any):
        self.values = values
        self.state = state

    def end(self, session):
        self.values.append(plain(session.run(self.state)))


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
    """Raises from after_run the first time the fetched global step reaches
    `step`: AbortedError (a preemption), or what `make_error()` returns."""

    def __init__(self, global_step: Any, step: int, make_error=None):
        self.global_step = global_step
        self.step = step
        self.make_error = make_error or (
            lambda: tf.errors.AbortedError(None, None, "injected preemption")
        )
        self.fired = False

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self.global_step)

    def after_run(self, run_context, run_values):
        if not self.fired and run_values.results >= self.step:
            self.fired = True
            raise self.make_error()


class UnavailableBeforeRun(tf1.train.SessionRunHook):
    """Raises UnavailableError from before_run once, when the global step
    read through `run_context.session` is `step` (no step has run yet)."""

    def __init__(self, global_step: Any, step: int):
        self.global_step = global_step
        self.step = step
        self.fired = False

    def before_run(self, run_context):
        current = int(run_context.session.run(self.global_step))
        if not self.fired and current == self.step:
            self.fired = True
            raise tf.errors.UnavailableError(None, None, "injected outage")


class ResultsPlusOne(tf1.train.SessionRunHook):
    """TF1 hook code as it was written: looks the global step up with
    `tf.compat.v1.train.get_global_step()` in begin, fetches the variable and
    takes `run_values.results + 1` as the step just done."""

    def __init__(self, trace: list):
        self.trace = trace

    def begin(self):
        self.global_step = tf1.train.get_global_step()
        assert self.global_step is not None

    def before_run(self, run_context):
        return tf1.train.SessionRunArgs(self.global_step)

    def after_run(self, run_context, run_values):
        self.trace.append(("results+1", int(run_values.results + 1)))


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


# -- checkpoints and summaries, read back from the files ----------------------

# km's bookkeeping inside its checkpoints, not variables of the model: the
# object graph, tf.train.Checkpoint's save counter and the hooks' JSON state
# (contract section 2, "Resumable state"). TF1's files have none of them.
_KM_BOOKKEEPING = frozenset(
    {
        "_CHECKPOINTABLE_OBJECT_GRAPH",
        "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
        "keras_monitored_hook_state/.ATTRIBUTES/py_state",
    }
)
_ATTRIBUTE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def checkpoint_steps(directory: str) -> list[int]:
    """The global steps of the checkpoints (`model.ckpt-N.index`) present."""
    steps = []
    for path in glob.glob(
        os.path.join(directory, f"{CHECKPOINT_BASENAME}-*.index")
    ):
        step = os.path.basename(path)[len(CHECKPOINT_BASENAME) + 1 : -6]
        steps.append(int(step))
    return sorted(steps)


def checkpoint_values(prefix: str) -> dict[str, Any]:
    """Every variable of a checkpoint by name: TF1's name-based keys (`w`) as
    they are, km's object-based keys (`w/.ATTRIBUTES/VARIABLE_VALUE`) by
    their object name; km's bookkeeping left out."""
    reader = tf.train.load_checkpoint(prefix)
    values = {}
    for key in reader.get_variable_to_shape_map():
        if key in _KM_BOOKKEEPING:
            continue
        name = key.removesuffix(_ATTRIBUTE_SUFFIX)
        values[name] = plain(reader.get_tensor(key))
    return values


def all_checkpoint_values(directory: str) -> dict[int, dict[str, Any]]:
    """{step: every variable} for each checkpoint left in `directory`."""
    return {
        step: checkpoint_values(
            os.path.join(directory, f"{CHECKPOINT_BASENAME}-{step}")
        )
        for step in checkpoint_steps(directory)
    }


class CheckpointWatcher(tf1.train.SessionRunHook):
    """Looks into a checkpoint directory in every phase and records the
    checkpoints that appeared since it last looked, with every variable's
    value: which phase (and whose turn) made a checkpoint visible, and
    what each checkpoint holds (read when it appears, before retention can
    delete it).

    Args:
      trace: the list phase events go to, or None (contents only).
      directory: the checkpoint directory.
      name: the event prefix.
    """

    def __init__(self, trace: list | None, directory: str, name="watch"):
        self.trace = trace
        self.directory = directory
        self.name = name
        self.contents: dict[int, dict[str, Any]] = {}

    def _look(self, phase):
        new = {}
        if os.path.isdir(self.directory):
            for step in checkpoint_steps(self.directory):
                if step not in self.contents:
                    new[step] = checkpoint_values(
                        os.path.join(
                            self.directory, f"{CHECKPOINT_BASENAME}-{step}"
                        )
                    )
        self.contents.update(new)
        if self.trace is not None:
            self.trace.append((f"{self.name}.{phase}", new))

    def after_create_session(self, session, coord):
        self._look("after_create_session")

    def after_run(self, run_context, run_values):
        self._look("after_run")

    def end(self, session):
        self._look("end")


GLOBAL_STEP_SEC = "global_step/sec"
SESSION_START = "SessionLog.START"


def read_summaries(directory: str) -> list[tuple]:
    """The summaries of every event file in `directory`, read with TF1's
    `summary_iterator`: sorted (tag, step, value) for each summary value,
    whether written as a TF1 `simple_value` or a TF2 tensor, plus
    (SessionLog.START, step, None) for TF1's session-start events.

    `global_step/sec` values depend on timing: their steps are compared,
    not their values.
    """
    found = []
    for path in sorted(
        glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    ):
        for event in tf1.train.summary_iterator(path):
            if event.HasField("summary"):
                for value in event.summary.value:
                    kind = value.WhichOneof("value")
                    if kind == "simple_value":
                        number = value.simple_value
                    elif kind == "tensor":
                        number = plain(tf.make_ndarray(value.tensor))
                    else:
                        number = kind
                    if value.tag == GLOBAL_STEP_SEC:
                        number = None
                    found.append((value.tag, int(event.step), number))
            elif (
                event.HasField("session_log")
                and event.session_log.status == event.session_log.START
            ):
                found.append((SESSION_START, int(event.step), None))
    return sorted(found, key=lambda item: (item[1], item[0]))


def summary_kinds(directory: str) -> dict[str, set[str]]:
    """{tag: {value kinds}} in the event files of `directory`."""
    kinds: dict[str, set[str]] = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf1.train.summary_iterator(path):
            for value in event.summary.value:
                kinds.setdefault(value.tag, set()).add(
                    value.WhichOneof("value")
                )
    return kinds


# -- the two programs ---------------------------------------------------------


def _default_hooks_off(kwargs: dict) -> None:
    """MTS's default hooks not asked for by a scenario are off."""
    kwargs.setdefault("save_checkpoint_secs", None)
    kwargs.setdefault("save_summaries_steps", None)
    kwargs.setdefault("log_step_count_steps", None)


class TF1Program:
    """The scenario's model in a TF1 graph."""

    kind = "tf1"

    def __init__(self):
        self.graph = tf.Graph()

    def build(self, num_examples=None, fail_at=None, nan_at=None, **unused):
        """Builds the graph.

        Args:
          num_examples: feed the input from a dataset of this many examples.
          fail_at: an assertion fails in the step that would reach this
            global step.
          nan_at: the loss is NaN from the step that reaches this step.
          unused: km-only options (`own_global_step`): TF1 has one global
            step per graph, advanced by the train op.
        """
        del unused
        with self.graph.as_default():
            self.global_step = tf1.train.get_or_create_global_step()
            # The global step read every TF1 standard hook fetches, created
            # first so the update can be ordered after it (as Estimator did).
            step_before = training_util._get_or_create_global_step_read()  # pylint: disable=protected-access
            self.variables = {
                name: tf1.get_variable(
                    name,
                    initializer=tf.constant(INITIAL[name]),
                    use_resource=True,
                )
                for name in VARIABLES
            }
            self.w = self.variables["w"]
            # What fetching a variable returns: its own read op.
            variable_reads = [
                variable._as_graph_element()  # pylint: disable=protected-access
                for variable in [self.global_step, *self.variables.values()]
            ]
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
                values = {
                    name: variable.read_value()
                    for name, variable in self.variables.items()
                }
            self.loss, prediction, gradients = forward(
                values["w"], values["b"], values["k"], x, step_before, nan_at
            )
            tf1.summary.scalar("loss", self.loss)
            tf1.summary.scalar("prediction", prediction)
            updates = []
            with tf.control_dependencies([step_before, *variable_reads]):
                for name, variable in self.variables.items():
                    updates.append(
                        variable.assign_sub(
                            self.learning_rate * gradients[name]
                        )
                    )
            with tf.control_dependencies(updates):
                increment = self.global_step.assign_add(1)
            with tf.control_dependencies([increment]):
                self.step_after = tf.identity(self.global_step.read_value())
                self.after = {
                    name: tf.identity(variable.read_value())
                    for name, variable in self.variables.items()
                }
            self.train_op = tf.group(increment)
            self.hook_fetches = {
                "loss": self.loss,
                "step": self.step_after,
                "w": self.after["w"],
            }
            # Reads without side effects, safe to evaluate outside a step.
            self.state_fetches = {
                "w": tf.identity(self.w.read_value()),
                "step": tf.identity(self.global_step.read_value()),
            }
            self.full_state = {
                "step": tf.identity(self.global_step.read_value()),
                **{
                    name: tf.identity(variable.read_value())
                    for name, variable in self.variables.items()
                },
            }
            self.init_assign = tf.group(
                *[
                    variable.assign(INIT_FN_VALUES[name])
                    for name, variable in self.variables.items()
                ]
            )

    def recorder(self, trace, name="rec"):
        return Recorder(trace, self.hook_fetches, self.full_state, name)

    def variable_fetches(self):
        """The variables themselves (fetched by a hook: before the step)."""
        return {"global_step": self.global_step, **self.variables}

    def hook_class(self, name):
        """TF1's standard hook class `name`."""
        return getattr(tf1.train, name)

    def variable_recorder(self, trace, name="vars"):
        """Fetches the variables themselves (values before the step) and
        reads after the step, side by side."""
        fetches = {
            "before": self.variable_fetches(),
            "after": {"global_step": self.step_after, **self.after},
        }
        return Recorder(trace, fetches, self.full_state, name)

    def state_at_end(self, values):
        return StateAtEnd(values, self.full_state)

    def step_fetch(self):
        """Fetches the global step after this run's update (from a hook)."""
        return self.step_after

    def global_step_fetch(self):
        """Reads the global step (from `session.run`, outside a step)."""
        return self.global_step

    def lr_key(self):
        return self.learning_rate

    def scaffold(self, init_fn=None):
        with self.graph.as_default():
            return tf1.train.Scaffold(init_fn=init_fn)

    def init_fn(self, trace):
        """Scaffold.init_fn(scaffold, session): assigns INIT_FN_VALUES."""
        assign = self.init_assign

        def init_fn(scaffold, session):
            assert isinstance(scaffold, tf1.train.Scaffold)
            trace.append(("init_fn",))
            session.run(assign)

        return init_fn

    @contextlib.contextmanager
    def session(self, steps_per_loop=1, all_defaults=False, **kwargs):
        """TF1's MonitoredTrainingSession.

        Args:
          steps_per_loop: km's: TF1 runs one step per call (scenarios
            compare km's loops against it).
          all_defaults: keep MTS's default hooks at TF1's defaults; else the
            ones not asked for are off.
          **kwargs: MonitoredTrainingSession's arguments.
        """
        del steps_per_loop
        with self.graph.as_default():
            if not all_defaults:
                _default_hooks_off(kwargs)
            with tf1.train.MonitoredTrainingSession(**kwargs) as sess:
                yield sess

    def close_summary_writers(self):
        """Flushes and closes TF1's cached FileWriters (TF1 kept them open
        for the process; the event files are read right after)."""
        tf1.summary.FileWriterCache.clear()

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

    def read(self, sess):
        """A read-only run (no step): hooks run around it."""
        return plain(sess.run(self.full_state))

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

    def build(
        self,
        num_examples=None,
        fail_at=None,
        nan_at=None,
        own_global_step=False,
    ):
        """Builds the variables and the step function.

        Args:
          num_examples, fail_at, nan_at: see `TF1Program.build`.
          own_global_step: the step function advances a variable of its own,
            given as `km.Scaffold(global_step=...)` (contract section 3).
        """
        km.reset_global_step()
        if own_global_step:
            self.global_step = tf.Variable(
                0, dtype=tf.int64, trainable=False, name="own_step"
            )
            self.own_global_step = self.global_step
        else:
            self.global_step = km.get_or_create_global_step()
            self.own_global_step = None
        self.variables = {
            name: tf.Variable(INITIAL[name], name=name) for name in VARIABLES
        }
        self.w = self.variables["w"]
        self.feeds = {}
        if num_examples is not None:
            self.feeds["x"] = iter(
                tf.data.Dataset.range(num_examples).map(_input_for_step)
            )
        variables, global_step = self.variables, self.global_step
        own = self.own_global_step

        def train_step(x=None, learning_rate=LEARNING_RATE):
            step_before = global_step.read_value()
            if x is None:
                x = _input_for_step(step_before)
            if fail_at is not None:
                tf.debugging.assert_less(
                    step_before, tf.constant(fail_at - 1, tf.int64)
                )
            values = {
                name: variable.read_value()
                for name, variable in variables.items()
            }
            loss, prediction, gradients = forward(
                values["w"], values["b"], values["k"], x, step_before, nan_at
            )
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("prediction", prediction)
            for name, variable in variables.items():
                variable.assign_sub(learning_rate * gradients[name])
            if own is not None:
                own.assign_add(1)
            return {"loss": loss}

        self.train_step = train_step
        # TF1's side fetches the weight read after the update; a variable
        # fetched through SessionRunArgs is its value before the step (what
        # TF1's read of the variable itself gave), a callable is read after.
        self.hook_fetches = {
            "loss": "loss",
            "step": "global_step",
            "w": lambda: self.w,
        }
        self.state_fetches = {"w": self.w, "step": "global_step"}
        self.full_state = {"step": "global_step", **self.variables}

    def recorder(self, trace, name="rec"):
        return Recorder(trace, self.hook_fetches, self.full_state, name)

    def variable_fetches(self):
        return {"global_step": self.global_step, **self.variables}

    def hook_class(self, name):
        """km's TF2-native standard hook class `name`."""
        return getattr(km.hooks, name)

    def variable_recorder(self, trace, name="vars"):
        fetches = {
            "before": self.variable_fetches(),
            "after": {
                "global_step": "global_step",
                **{
                    name: (lambda variable=variable: variable)
                    for name, variable in self.variables.items()
                },
            },
        }
        return Recorder(trace, fetches, self.full_state, name)

    def state_at_end(self, values):
        return StateAtEnd(values, self.full_state)

    def step_fetch(self):
        return "global_step"

    def global_step_fetch(self):
        return "global_step"

    def lr_key(self):
        return "learning_rate"

    def scaffold(self, init_fn=None):
        return km.Scaffold(
            checkpoint=dict(self.variables),
            global_step=self.own_global_step,
            init_fn=init_fn,
        )

    def init_fn(self, trace):
        variables = self.variables

        def init_fn(scaffold, session):
            assert isinstance(scaffold, km.Scaffold)
            trace.append(("init_fn",))
            for name, variable in variables.items():
                variable.assign(INIT_FN_VALUES[name])

        return init_fn

    @contextlib.contextmanager
    def session(self, all_defaults=False, **kwargs):
        """km's MonitoredTrainingSession (see `TF1Program.session`)."""
        if not all_defaults:
            _default_hooks_off(kwargs)
        if kwargs.get("scaffold") is None:
            kwargs["scaffold"] = self.scaffold()
        with km.MonitoredTrainingSession(**kwargs) as sess:
            yield sess

    def close_summary_writers(self):
        """Nothing: km's summary hooks flush their writers in `end`."""

    def run(self, sess, feed_learning_rate=None):
        feed = dict(self.feeds)
        if feed_learning_rate is not None:
            feed["learning_rate"] = feed_learning_rate
        return sess.run(self.train_step, feed_dict=feed)

    def read(self, sess):
        return plain(sess.run(self.full_state))

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


# -- running and comparing ----------------------------------------------------


def outcome_of(function: Callable[[], Any]) -> tuple[str, str]:
    """Runs `function`; returns ("ok", "") or (exception type name, the
    whole message)."""
    try:
        function()
    except Exception as error:  # noqa: BLE001  pylint: disable=broad-except
        return type(error).__name__, str(error)
    return "ok", ""


def loop_until_stop(program, sess, max_runs=50) -> int:
    """Runs steps until the session stops; returns the number of calls."""
    runs = 0
    while not sess.should_stop() and runs < max_runs:
        program.run(sess)
        runs += 1
    return runs


def assert_close(expected: Any, actual: Any, where: str) -> None:
    """Asserts `actual` (km) equals `expected` (TF1): dicts by key, numbers
    and arrays within float tolerance (the same ops, compiled by a graph
    session and by tf.function), anything else exactly.

    Args:
      expected: TF1's value.
      actual: km's value.
      where: what is compared, for the message.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {expected!r} vs {actual!r}"
        assert sorted(expected, key=str) == sorted(actual, key=str), (
            f"{where}: keys differ:\nTF1: {sorted(expected, key=str)}\n"
            f"km:  {sorted(actual, key=str)}"
        )
        for key in expected:
            assert_close(expected[key], actual[key], f"{where}[{key!r}]")
        return
    if isinstance(expected, (list, tuple)) and any(
        isinstance(item, (str, dict, tuple, type(None))) for item in expected
    ):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(
            expected
        ), f"{where}: {expected!r} vs {actual!r}"
        for index, (left, right) in enumerate(zip(expected, actual)):
            assert_close(left, right, f"{where}[{index}]")
        return
    if isinstance(expected, (bool, str, type(None))) or isinstance(
        actual, (bool, str, type(None))
    ):
        assert expected == actual, f"{where}: TF1 {expected!r}, km {actual!r}"
        return
    expected_array = np.asarray(expected)
    actual_array = np.asarray(actual)
    assert expected_array.shape == actual_array.shape, (
        f"{where}: shapes differ: TF1 {expected!r}, km {actual!r}"
    )
    np.testing.assert_allclose(
        actual_array,
        expected_array,
        rtol=1e-5,
        atol=1e-7,
        err_msg=f"{where}: TF1 {expected!r}, km {actual!r}",
    )


def assert_same_trace(expected: list, actual: list) -> None:
    """Event names equal; recorded values equal within float tolerance."""
    names_expected = [event[0] for event in expected]
    names_actual = [event[0] for event in actual]
    assert names_actual == names_expected, (
        f"call order differs:\nTF1: {names_expected}\nkm:  {names_actual}"
    )
    for index, (left, right) in enumerate(zip(expected, actual)):
        assert len(left) == len(right), (left, right)
        assert_close(
            list(left[1:]), list(right[1:]), f"event {index} {left[0]}"
        )


def assert_same_summaries(expected: list, actual: list) -> None:
    """The same (tag, step) pairs, and the same values."""
    keys_expected = [(tag, step) for tag, step, _ in expected]
    keys_actual = [(tag, step) for tag, step, _ in actual]
    assert keys_actual == keys_expected, (
        f"summary tags/steps differ:\nTF1: {keys_expected}\nkm:  {keys_actual}"
    )
    for (tag, step, left), (_, _, right) in zip(expected, actual):
        assert_close(left, right, f"summary {tag!r} at step {step}")


def as_result(value: Any) -> dict[str, Any]:
    """A scenario's return value as a result dict ((trace, outcome) tuples
    are the short form)."""
    if isinstance(value, dict):
        return value
    trace, outcome = value
    return {"trace": trace, "outcome": outcome}


def assert_same_result(expected: dict, actual: dict) -> None:
    """Compares two results key by key. Keys starting with `_` are facts
    about one side (checked by the scenario's test), not compared."""
    shared = sorted(key for key in expected if not key.startswith("_"))
    assert shared == sorted(k for k in actual if not k.startswith("_")), (
        f"result keys differ: {shared} vs {sorted(actual)}"
    )
    assert any(expected.values()), "the TF1 side recorded nothing"
    if "trace" in expected:
        assert expected["trace"], "the TF1 side recorded nothing"
        assert_same_trace(expected["trace"], actual["trace"])
    if "summaries" in expected:
        assert expected["summaries"], "TF1 wrote no summaries"
        assert_same_summaries(expected["summaries"], actual["summaries"])
    if "checkpoints" in expected:
        assert expected["checkpoints"], "TF1 wrote no checkpoints"
    for key in shared:
        if key in ("trace", "summaries"):
            continue
        assert_close(expected[key], actual[key], key)


def run_scenario(scenario, program, tmp_path) -> dict[str, Any]:
    """Runs `scenario` with `program`, in a directory of its own."""
    directory = tmp_path / program.kind
    directory.mkdir(exist_ok=True)
    return as_result(scenario(program, directory))


def check_scenario(scenario, tmp_path) -> tuple[dict, dict]:
    """Runs `scenario` under TF1 and under km and asserts the same result.

    Returns:
      (TF1 result, km result).

    Raises:
      AssertionError: the results differ.
    """
    expected = run_scenario(scenario, TF1Program(), tmp_path)
    actual = run_scenario(scenario, KMProgram(), tmp_path)
    assert_same_result(expected, actual)
    return expected, actual
