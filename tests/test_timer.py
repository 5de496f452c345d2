"""SecondOrStepTimer: TF1's trigger rules with an injected clock."""

from __future__ import annotations

import pytest
import tensorflow as tf

from keras_monitored.hooks import NeverTriggerTimer, SecondOrStepTimer


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_steps_timer_matches_tf1_step_by_step():
    ours = SecondOrStepTimer(every_steps=3)
    theirs = tf.compat.v1.train.SecondOrStepTimer(every_steps=3)
    for step in [0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 9, 10, 12, 15]:
        expected = theirs.should_trigger_for_step(step)
        assert ours.should_trigger_for_step(step) == expected, step
        if expected:
            assert (
                ours.update_last_triggered_step(step)[1]
                == theirs.update_last_triggered_step(step)[1]
            )
    assert ours.last_triggered_step() == theirs.last_triggered_step()


def test_secs_timer_uses_the_injected_clock():
    clock = FakeClock()
    timer = SecondOrStepTimer(every_secs=10, clock=clock)
    assert timer.should_trigger_for_step(1)
    assert timer.update_last_triggered_step(1) == (None, None)
    clock.now += 9.9
    assert not timer.should_trigger_for_step(2)
    clock.now += 0.1
    assert timer.should_trigger_for_step(3)
    assert not timer.should_trigger_for_step(1)  # same step as the last trigger
    elapsed_secs, elapsed_steps = timer.update_last_triggered_step(3)
    assert elapsed_secs == pytest.approx(10.0) and elapsed_steps == 2


def test_next_trigger_step():
    timer = SecondOrStepTimer(every_steps=100)
    assert timer.next_trigger_step(7) == 8  # never triggered: the next step
    timer.update_last_triggered_step(7)
    assert timer.next_trigger_step(7) == 107
    assert timer.next_trigger_step(150) == 151
    assert SecondOrStepTimer(every_secs=1).next_trigger_step(5) is None
    assert NeverTriggerTimer().next_trigger_step(5) is None
    assert not NeverTriggerTimer().should_trigger_for_step(0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            {},
            ValueError,
            "Either every_secs or every_steps should be provided.",
            id="neither",
        ),
        pytest.param(
            dict(every_secs=1, every_steps=1),
            ValueError,
            "Can not provide both every_secs and every_steps.",
            id="both",
        ),
        pytest.param(
            dict(every_steps=0), ValueError, "every_steps=0", id="zero_steps"
        ),
        pytest.param(
            dict(every_secs=-1.0),
            ValueError,
            "every_secs=-1.0",
            id="negative_secs",
        ),
        pytest.param(
            dict(every_steps="10"),
            TypeError,
            "every_steps='10'",
            id="string_steps",
        ),
        pytest.param(
            dict(every_steps=1, clock=5),
            TypeError,
            "clock=5",
            id="clock_not_callable",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")):
        SecondOrStepTimer(**kwargs)


def test_state_round_trip_resumes_the_cadence():
    clock = FakeClock()
    timer = SecondOrStepTimer(every_steps=10, clock=clock)
    timer.update_last_triggered_step(30)
    resumed = SecondOrStepTimer(every_steps=10, clock=clock)
    resumed.set_state(timer.get_state())
    assert not resumed.should_trigger_for_step(
        35
    ) and resumed.should_trigger_for_step(40)
    fresh = SecondOrStepTimer(every_steps=10)
    fresh.set_state({"last_triggered_step": None})
    assert fresh.should_trigger_for_step(1)
