"""The eager-mode guard (keras_monitored/_eager_guard.py): sessions built in
TF1 graph mode raise at once, before hooks' begin and before any variable,
saying what to remove."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAPH_FIX = (
    r"Remove the `with tf\.Graph\(\)\.as_default\(\):` around the training loop"
)


class BeginRecorder(km.SessionRunHook):
    def __init__(self):
        self.begun = False

    def begin(self):
        self.begun = True


SESSIONS = [
    pytest.param(
        lambda d, hooks: km.MonitoredTrainingSession(
            checkpoint_dir=d, hooks=hooks
        ),
        id="monitored_training_session",
    ),
    pytest.param(
        lambda d, hooks: km.MonitoredSession(
            km.ChiefSessionCreator(checkpoint_dir=d), hooks=hooks
        ),
        id="monitored_session",
    ),
    pytest.param(
        lambda d, hooks: km.SingularMonitoredSession(
            hooks=hooks, checkpoint_dir=d
        ),
        id="singular_monitored_session",
    ),
]


@pytest.mark.parametrize("make_session", SESSIONS)
def test_a_session_inside_a_tf1_graph_raises_at_once(tmp_path, make_session):
    hook = BeginRecorder()
    with tf.Graph().as_default():
        with pytest.raises(
            RuntimeError,
            match=r"keras_monitored needs eager execution.*tf\.Graph is the "
            r"default graph.*" + GRAPH_FIX,
        ):
            make_session(str(tmp_path), [hook])
    assert not hook.begun
    assert km.get_global_step() is None  # no variable was created
    assert os.listdir(tmp_path) == []


def test_a_session_built_inside_a_tf_function_raises():
    @tf.function
    def build():
        km.MonitoredSession()
        return tf.constant(0)

    with pytest.raises(
        RuntimeError, match=r"inside a tf\.function being traced"
    ):
        build()


def test_hook_callback_inside_a_tf1_graph_raises():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    hook = BeginRecorder()
    callback = km.HookCallback([hook])
    callback.set_model(model)
    with tf.Graph().as_default():
        with pytest.raises(
            RuntimeError, match=r"km\.HookCallback.*" + GRAPH_FIX
        ):
            callback.on_train_begin()
    assert not hook.begun


# A TF1 program that kept its `disable_*()` call: every session refuses, and
# nothing ran (no hook's begin, no global step, no file).
_PROGRAM = textwrap.dedent(
    """
    import os, sys
    import tensorflow as tf
    import keras_monitored as km

    tf.compat.v1.{disable}()
    directory = sys.argv[1]
    begun = []

    class Hook(km.SessionRunHook):
        def begin(self):
            begun.append(1)

    makers = [
        lambda: km.MonitoredTrainingSession(checkpoint_dir=directory, hooks=[Hook()]),
        lambda: km.MonitoredSession(hooks=[Hook()]),
        lambda: km.SingularMonitoredSession(hooks=[Hook()]),
    ]
    for make in makers:
        try:
            make()
            print("NO ERROR")
        except RuntimeError as error:
            print("ERROR:", error)
    print("begun:", len(begun), "global step:", km.get_global_step(),
          "files:", os.listdir(directory))
    """
)


@pytest.mark.parametrize(
    "disable", ["disable_v2_behavior", "disable_eager_execution"]
)
def test_eager_execution_disabled_for_the_process_raises(tmp_path, disable):
    result = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(disable=disable), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    errors = [
        line for line in result.stdout.splitlines() if line.startswith("ERROR:")
    ]
    assert len(errors) == 3, result.stdout
    for line in errors:
        assert "keras_monitored needs eager execution" in line
        assert (
            "Remove the disable_v2_behavior()/disable_eager_execution() call"
            in line
        )
    assert "begun: 0 global step: None files: []" in result.stdout


def test_eager_sessions_are_unaffected(tmp_path):
    weight = tf.Variable(np.float32(1.0))
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
    ) as sess:
        sess.run(lambda: {"w": weight.assign_add(1.0)})
    assert weight.numpy() == 2.0
