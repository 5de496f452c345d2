"""CheckpointSaverHook: TF1's save timing, completed hook state, listeners."""

from __future__ import annotations

import json
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


class SeesCheckpoints(km.SessionRunHook):
    """Logs the newest checkpoint when it runs (TF1 hooks that export it)."""

    def __init__(self, log, directory):
        self.log = log
        self.directory = directory

    def _latest(self):
        latest = tf.train.latest_checkpoint(self.directory)
        return latest.rsplit("-", 1)[1] if latest else None

    def after_run(self, run_context, run_values):
        self.log.append(f"sees@{self._latest()}")

    def end(self, session):
        self.log.append(f"end sees@{self._latest()}")


def completed_state(path):
    with open(path + ".km_hook_state.json") as handle:
        return json.load(handle)


def embedded_state(path):
    reader = tf.train.load_checkpoint(path)
    return json.loads(
        reader.get_tensor("keras_monitored_hook_state/.ATTRIBUTES/py_state")
    )


def test_saves_happen_in_the_saver_hooks_turn_as_in_tf1(tmp_path):
    """Hooks after the saver and its listeners see the file in the same
    phase; a hook's end() sees the final checkpoint. The state in the
    checkpoint is completed once every hook has finished the phase."""
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
        session_creator=creator,
        hooks=[saver, counter, SeesCheckpoints(log, str(tmp_path))],
    ) as sess:
        for _ in range(3):
            sess.run(increment_step(weight))
    assert log == [
        "saved@0",
        "count=1",
        "sees@0",
        "saved@2",  # in the saver's turn of step 2 ...
        "count=2",
        "sees@2",  # ... so a later hook sees it at once
        "count=3",
        "sees@2",
        "saved@3",  # the end's save comes before the later hooks' end
        "end sees@3",
    ]
    path = str(tmp_path / "model.ckpt-2")
    # Written in the saver's turn: the counter had not counted step 2 yet.
    assert embedded_state(path)["CountingHook/0"] == {"count": 1}
    # Completed after the phase: what a resumed run starts from.
    assert completed_state(path)["CountingHook/0"] == {"count": 2}


class Counted(CountingHook):
    def set_state(self, state):
        self.count = state["count"]


def run_counted(directory, steps, counter):
    weight = tf.Variable(0.0)
    creator = km.ChiefSessionCreator(
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        checkpoint_dir=str(directory),
    )
    saver = km.CheckpointSaverHook(str(directory), save_steps=2)
    with km.MonitoredSession(
        session_creator=creator,
        hooks=[saver, counter, km.StopAtStepHook(last_step=steps)],
    ) as sess:
        while not sess.should_stop():
            sess.run(increment_step(weight))


def test_resumed_hook_state_is_the_state_after_the_saved_step(tmp_path):
    run_counted(tmp_path, 4, Counted([]))
    # The completed state of step 4 resumes: the counter goes on from 4.
    km.reset_global_step()
    resumed = Counted([])
    run_counted(tmp_path, 6, resumed)
    assert resumed.count == 6
    # A crash between the checkpoint and its completed state: the state of
    # the save's moment (the counter before step 6) is what resumes.
    os.remove(str(tmp_path / "model.ckpt-6.km_hook_state.json"))
    km.reset_global_step()
    fallback = Counted([])
    run_counted(tmp_path, 7, fallback)
    assert fallback.count == 5 + 1


def test_retention_removes_the_completed_state_too(tmp_path):
    run_counted(tmp_path, 14, Counted([]))  # saves 0, 2, ... 14; keeps 5
    names = sorted(os.listdir(tmp_path))
    kept = [n for n in names if n.endswith(".index")]
    completed = [n for n in names if n.endswith(".km_hook_state.json")]
    assert [n.split(".")[1] for n in kept] == [
        n.split(".")[1] for n in completed
    ]
    assert len(kept) == 5


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


def test_a_save_logs_one_line(tmp_path, caplog):
    """TF1's "Saving checkpoints for N into PATH." and nothing else at INFO
    (no listener lines without listeners, no TF sharding timings)."""
    import logging

    w = tf.Variable(0.0)
    with caplog.at_level(logging.INFO):
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(w=w)),
            save_checkpoint_steps=1,
            save_summaries_steps=None,
            log_step_count_steps=None,
            hooks=[km.hooks.StopAtStepHook(last_step=3)],
        ) as sess:
            while not sess.should_stop():
                sess.run(lambda: {"w": w.assign_add(1.0)})
    about_saves = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO
        and (
            "checkpoint" in r.getMessage().lower()
            or "Sharding" in r.getMessage()
        )
        and "Restored" not in r.getMessage()
        and r.getMessage() != "Create CheckpointSaverHook."  # TF1's, once
    ]
    path = os.path.join(str(tmp_path), "model.ckpt")
    assert about_saves == [
        f"Saving checkpoints for {step} into {path}." for step in (0, 1, 2, 3)
    ], about_saves
