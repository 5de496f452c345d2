"""StopAtStepHook: TF1's constructor and stop points."""

from __future__ import annotations

import pytest

import keras_monitored as km


def run_until_stop(hooks, max_runs=100):
    runs = 0
    with km.MonitoredSession(hooks=hooks) as sess:
        while not sess.should_stop() and runs < max_runs:
            sess.run(lambda: {})
            runs += 1
    return runs


def test_num_steps_counts_from_session_creation():
    km.get_or_create_global_step().assign(10)
    hook = km.StopAtStepHook(num_steps=5)
    assert run_until_stop([hook]) == 5
    assert hook.last_step == 15 and km.get_global_step().numpy() == 15


def test_last_step_is_absolute():
    km.get_or_create_global_step().assign(3)
    assert run_until_stop([km.StopAtStepHook(last_step=8)]) == 5


def test_already_past_last_step_runs_one_step_like_tf1():
    km.get_or_create_global_step().assign(9)
    assert run_until_stop([km.StopAtStepHook(last_step=5)]) == 1


def test_next_trigger_step_is_the_stop_step():
    hook = km.StopAtStepHook(last_step=1000)
    assert hook.next_trigger_step(3) == 1000


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(num_steps=-1), ValueError, "num_steps=-1", id="negative"
        ),
        pytest.param(
            dict(last_step=2.5), TypeError, "last_step=2.5", id="float"
        ),
        pytest.param(
            dict(num_steps="3"), TypeError, "num_steps='3'", id="string"
        ),
    ],
)
def test_bad_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.StopAtStepHook(**kwargs)
