"""CheckpointSaverHook: timing, deferral until all hooks ran, listeners."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_timer import FakeClock


def saved_steps(directory):
    names = [n for n in os.listdir(directory) if n.endswith(".index")]
    return sorted(int(n.split("-")[1].split(".")[0]) for n in names)


def increment_step(weight):
    return lambda: {"w": weight.assign_add(1.0)}


def test_seconds_trigger_with_injected_clock(tmp_path):
    clock = FakeClock()
    weight = tf.Variable(0.0)
    hook = km.CheckpointSaverHook(str(tmp_path), save_secs=60, clock=clock)
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(
            scaffold=km.Scaffold(checkpoint={"w": weight})
        ),
        hooks=[hook],
    ) as sess:
        step = increment_step(weight)
        sess.run(step)
        sess.run(step)
        assert saved_steps(tmp_path) == [0]
        clock.now += 60
        sess.run(step)
        assert saved_steps(tmp_path) == [0, 3]
        sess.run(step)
    assert saved_steps(tmp_path) == [0, 3, 4]  # the end saves the last step


class CountingHook(km.SessionRunHook):
    def __init__(self, log):
        self.count = 0
        self.log = log

    def after_run(self, run_context, run_values):
        self.count += 1
        self.log.append(f"count={self.count}")

    def get_state(self):
        return {"count": self.count}


class LogListener(km.CheckpointSaverListener):
    def __init__(self, log):
        self.log = log

    def after_save(self, session, global_step_value):
        self.log.append(f"saved@{global_step_value}")


def test_save_waits_until_every_hook_finished_the_step(tmp_path):
    log = []
    weight = tf.Variable(0.0)
    saver = km.CheckpointSaverHook(
        str(tmp_path), save_steps=2, listeners=[LogListener(log)]
    )
    counter = CountingHook(log)
    creator = km.ChiefSessionCreator(
        scaffold=km.Scaffold(checkpoint={"w": weight})
    )
    with km.MonitoredSession(
        session_creator=creator, hooks=[saver, counter]
    ) as sess:
        for _ in range(2):
            sess.run(increment_step(weight))
    # The saver comes first in the list, yet its save at step 2 follows the
    # counter's after_run of step 2, so the checkpoint holds count=2.
    assert log == ["saved@0", "count=1", "count=2", "saved@2"]
    reader = tf.train.load_checkpoint(str(tmp_path / "model.ckpt-2"))
    state = reader.get_tensor("keras_monitored_hook_state/.ATTRIBUTES/py_state")
    assert b'"CountingHook/0": {"count": 2}' in state


def test_creation_save_is_skipped_for_the_checkpoint_just_restored(tmp_path):
    weight = tf.Variable(0.0)
    log = []

    def run(last_step):
        creator = km.ChiefSessionCreator(
            scaffold=km.Scaffold(checkpoint={"w": weight}),
            checkpoint_dir=str(tmp_path),
        )
        saver = km.CheckpointSaverHook(
            str(tmp_path), save_steps=10, listeners=[LogListener(log)]
        )
        with km.MonitoredSession(
            session_creator=creator,
            hooks=[saver, km.StopAtStepHook(last_step=last_step)],
        ) as sess:
            while not sess.should_stop():
                sess.run(increment_step(weight))

    run(3)
    assert log == ["saved@0", "saved@3"]
    km.reset_global_step()
    run(4)
    # Restored step 3 is not saved again at creation; the end saves step 4.
    assert log == ["saved@0", "saved@3", "saved@4"]
    assert saved_steps(tmp_path) == [0, 3, 4]


def test_own_saver_and_scaffold_save_their_own_objects(tmp_path):
    session_weight, saver_weight, scaffold_weight = (
        tf.Variable(1.0),
        tf.Variable(2.0),
        tf.Variable(3.0),
    )
    by_saver = km.CheckpointSaverHook(
        str(tmp_path / "saver"),
        save_steps=1,
        saver=tf.train.Checkpoint(s=saver_weight),
    )
    by_scaffold = km.CheckpointSaverHook(
        str(tmp_path / "scaffold"),
        save_steps=1,
        scaffold=km.Scaffold(checkpoint={"f": scaffold_weight}),
    )
    creator = km.ChiefSessionCreator(
        scaffold=km.Scaffold(checkpoint={"w": session_weight})
    )
    with km.MonitoredSession(
        session_creator=creator, hooks=[by_saver, by_scaffold]
    ) as sess:
        sess.run(increment_step(session_weight))
    keys_saver = {
        name for name, _ in tf.train.list_variables(str(tmp_path / "saver"))
    }
    keys_scaffold = {
        name for name, _ in tf.train.list_variables(str(tmp_path / "scaffold"))
    }
    assert (
        "s/.ATTRIBUTES/VARIABLE_VALUE" in keys_saver
        and "w/.ATTRIBUTES/VARIABLE_VALUE" not in keys_saver
    )
    assert (
        "f/.ATTRIBUTES/VARIABLE_VALUE" in keys_scaffold
        and "global_step/.ATTRIBUTES/VARIABLE_VALUE" in keys_scaffold
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(
                save_steps=1,
                saver=tf.train.Checkpoint(),
                scaffold=km.Scaffold(),
            ),
            ValueError,
            "You cannot provide both saver and scaffold.",
            id="saver_and_scaffold",
        ),
        pytest.param(
            {},
            ValueError,
            "Either every_secs or every_steps should be provided.",
            id="no_trigger",
        ),
        pytest.param(
            dict(save_steps=1, save_secs=1),
            ValueError,
            "Can not provide both every_secs and every_steps.",
            id="both_triggers",
        ),
        pytest.param(
            dict(save_steps=1, saver=object()),
            TypeError,
            r"Received: saver=<object",
            id="saver_type",
        ),
        pytest.param(
            dict(save_steps=1, listeners=[object()]),
            TypeError,
            r"`listeners\[0\]`",
            id="listener_type",
        ),
        pytest.param(
            dict(save_steps=1, listeners="abc"),
            TypeError,
            "Received: listeners='abc'",
            id="listeners_str",
        ),
        pytest.param(
            dict(save_steps=1, scaffold="s"),
            TypeError,
            "Received: scaffold='s'",
            id="scaffold_type",
        ),
        pytest.param(
            dict(save_steps=1, save_graph_def=1),
            TypeError,
            "save_graph_def=1",
            id="graph_def_type",
        ),
        pytest.param(
            dict(save_steps=1, checkpoint_basename=""),
            ValueError,
            "checkpoint_basename=''",
            id="basename",
        ),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        km.CheckpointSaverHook(str(tmp_path), **kwargs)


def test_missing_checkpoint_dir_is_a_type_error():
    with pytest.raises(TypeError, match="checkpoint_dir=None"):
        km.CheckpointSaverHook(None, save_steps=1)
