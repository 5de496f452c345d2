"""Every public constructor rejects bad arguments, naming argument and value.

(MonitoredTrainingSession, the hooks and the timer have their own tables in
their test files.)
"""

from __future__ import annotations

import pytest
import tensorflow as tf

import keras_monitored as km

CASES = [
    # MonitoredSession
    (
        km.MonitoredSession,
        dict(session_creator="chief"),
        TypeError,
        "session_creator='chief'",
    ),
    (
        km.MonitoredSession,
        dict(hooks=km.StopAtStepHook(1)),
        TypeError,
        "Received: hooks=<",
    ),
    (
        km.MonitoredSession,
        dict(hooks=[1]),
        TypeError,
        r"`hooks\[0\]`. Received: hooks\[0\]=1",
    ),
    (
        km.MonitoredSession,
        dict(stop_grace_period_secs="2"),
        TypeError,
        "stop_grace_period_secs='2'",
    ),
    # SingularMonitoredSession
    (km.SingularMonitoredSession, dict(scaffold=1), TypeError, "scaffold=1"),
    (
        km.SingularMonitoredSession,
        dict(checkpoint_dir=["d"]),
        TypeError,
        r"checkpoint_dir=\['d'\]",
    ),
    (
        km.SingularMonitoredSession,
        dict(checkpoint_dir="a", checkpoint_filename_with_path="b"),
        ValueError,
        "Can not provide both checkpoint_dir and checkpoint_filename_with_path.*checkpoint_dir='a'",
    ),
    (
        km.SingularMonitoredSession,
        dict(steps_per_loop=-3),
        ValueError,
        "steps_per_loop=-3",
    ),
    # ChiefSessionCreator
    (
        km.ChiefSessionCreator,
        dict(checkpoint_filename_with_path=5),
        TypeError,
        "checkpoint_filename_with_path=5",
    ),
    (
        km.ChiefSessionCreator,
        dict(config=object()),
        TypeError,
        "config=<object",
    ),
    (
        km.ChiefSessionCreator,
        dict(strategy="default"),
        TypeError,
        "strategy='default'",
    ),
    (
        km.ChiefSessionCreator,
        dict(max_to_keep="5"),
        TypeError,
        "max_to_keep='5'",
    ),
    # WorkerSessionCreator
    (
        km.WorkerSessionCreator,
        dict(max_wait_secs=-5),
        ValueError,
        "max_wait_secs=-5",
    ),
    (
        km.WorkerSessionCreator,
        dict(max_wait_secs="1"),
        TypeError,
        "max_wait_secs='1'",
    ),
    (
        km.WorkerSessionCreator,
        dict(checkpoint_dir=7),
        TypeError,
        "checkpoint_dir=7",
    ),
    # Scaffold
    (km.Scaffold, dict(checkpoint="model"), TypeError, "checkpoint='model'"),
    (
        km.Scaffold,
        dict(checkpoint={"m": 3}),
        TypeError,
        r"checkpoint\['m'\] is not trackable",
    ),
    (
        km.Scaffold,
        dict(checkpoint={1: tf.Variable(1.0)}),
        TypeError,
        "non-empty string keys",
    ),
    (
        km.Scaffold,
        dict(global_step=tf.Variable(1.0)),
        TypeError,
        "global_step=<tf.Variable",
    ),
    (km.Scaffold, dict(global_step=5), TypeError, "global_step=5"),
    (km.Scaffold, dict(init_fn="init"), TypeError, "init_fn='init'"),
    (
        km.Scaffold,
        dict(init_fn=lambda only_one: None),
        TypeError,
        "Received: init_fn=<function",
    ),
    # HookList, SessionRunArgs, SessionRunContext
    (km.HookList, dict(hooks="hooks"), TypeError, "hooks='hooks'"),
    (
        km.SessionRunArgs,
        dict(fetches="loss", feed_dict=[1]),
        TypeError,
        r"feed_dict=\[1\]",
    ),
    (
        km.SessionRunContext,
        dict(original_args=("loss",), session=None),
        TypeError,
        r"original_args=\('loss',\)",
    ),
]


@pytest.mark.parametrize(
    "constructor, kwargs, error, message",
    CASES,
    ids=[f"{c[0].__name__}-{'-'.join(c[1])}" for c in CASES],
)
def test_bad_argument_is_named_with_its_value(
    constructor, kwargs, error, message
):
    with pytest.raises(error, match=message):
        constructor(**kwargs)
