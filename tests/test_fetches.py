"""Fetch resolution (contract section 1) through a real session."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from keras_monitored import _fetches as fetches_lib

Pair = collections.namedtuple("Pair", ["loss", "step"])


class Capture(km.SessionRunHook):
    def __init__(self, fetches):
        self.fetches = fetches
        self.results = []

    def before_run(self, run_context):
        return km.SessionRunArgs(self.fetches)

    def after_run(self, run_context, run_values):
        self.results.append(run_values.results)


@pytest.fixture
def model():
    weight = tf.Variable(2.0, name="weight")

    def step(x=3.0):
        hidden = weight * x
        km.expose("hidden", hidden)
        weight.assign_add(1.0)
        return {"loss": hidden * 2.0, "count": tf.constant(7, tf.int32)}

    return weight, step


def run_once(step, fetches, **feeds):
    hook = Capture(fetches)
    with km.MonitoredSession(hooks=[hook]) as sess:
        caller = sess.run(step, feed_dict=feeds or None)
    return caller, hook.results[0]


def test_caller_gets_step_outputs_as_numpy(model):
    _, step = model
    caller, _ = run_once(step, "loss")
    assert set(caller) == {"loss", "count"}
    assert isinstance(caller["loss"], np.float32) and caller["loss"] == 12.0
    assert isinstance(caller["count"], np.int32) and caller["count"] == 7


def test_names_global_step_variables_callables_and_structure(model):
    weight, step = model
    fetches = {
        "loss": "loss",
        "tf1_name": "loss:0",
        "step": "global_step",
        "weight": weight,
        "callable": lambda: weight * 10,
        "pair": Pair(loss="loss", step="global_step"),
        "list": ["count", "hidden"],
    }
    _, results = run_once(step, fetches)
    assert results["loss"] == 12.0 and results["tf1_name"] == 12.0
    assert results["step"] == 1 and isinstance(results["step"], np.int64)
    # A variable fetched by a hook: its value when the run started (TF1's
    # graph read); the callable reads it after the step.
    assert results["weight"] == 2.0
    assert results["callable"] == pytest.approx(30.0)
    assert results["callable"] == pytest.approx(30.0)
    assert isinstance(results["pair"], Pair) and results["pair"] == Pair(
        12.0, 1
    )
    assert isinstance(results["list"], list) and results["list"] == [7, 6.0]


def test_exposed_tensor_is_fetchable_without_changing_outputs(model):
    _, step = model
    caller, results = run_once(step, "hidden")
    assert results == 6.0
    assert "hidden" not in caller


def test_unknown_name_raises_key_error_naming_fetch_and_available(model):
    _, step = model
    with pytest.raises(
        KeyError,
        match=r"'accuracy'.*Available names: \['count', 'hidden', 'loss', 'global_step'\]",
    ):
        run_once(step, {"a": "accuracy"})


def test_bad_type_raises_type_error_naming_it(model):
    _, step = model
    with pytest.raises(TypeError, match=r"Fetch 3\.5 has invalid type float"):
        run_once(step, 3.5)
    with pytest.raises(TypeError, match="Fetch None has invalid type NoneType"):
        fetches_lib.resolve(None, None, lambda: np.int64(0))


def test_graph_tensor_raises_type_error_with_advice(model):
    _, step = model
    with tf.Graph().as_default():
        graph_tensor = tf.constant(1.0, name="logits")
    with pytest.raises(
        TypeError,
        match=r"logits.* is a graph tensor and cannot be fetched.*km\.expose",
    ):
        run_once(step, {"logits": graph_tensor})


def test_name_before_any_step_is_key_error():
    with km.SingularMonitoredSession() as sess:
        raw = sess.raw_session()
        assert raw.run("global_step") == 0
        with pytest.raises(KeyError, match="no step has completed yet"):
            raw.run("loss")


def test_read_outside_step_sees_last_completed_step(model):
    weight, step = model
    with km.SingularMonitoredSession() as sess:
        sess.run(step)
        sess.run(step, feed_dict={"x": 10.0})
        assert sess.raw_session().run(
            {"l": "loss", "w": weight, "s": "global_step"}
        ) == {
            "l": np.float32(60.0),
            "w": np.float32(4.0),
            "s": 2,
        }


def test_expose_outside_step_and_bad_names():
    with pytest.raises(RuntimeError, match="outside a step function"):
        km.expose("x", 1.0)
    with pytest.raises(TypeError, match="`name`. Received: name=3"):
        km.expose(3, 1.0)
    with pytest.raises(ValueError, match="'global_step'"):
        km.expose("global_step", 1.0)


def test_expose_name_clashing_with_output_is_an_error():
    def step():
        km.expose("loss", tf.constant(1.0))
        return {"loss": tf.constant(2.0)}

    with km.SingularMonitoredSession() as sess:
        with pytest.raises(ValueError, match=r"\['loss'\] are also outputs"):
            sess.run(step)
