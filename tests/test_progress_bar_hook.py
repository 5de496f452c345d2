"""ProgressBarHook: a Keras bar on terminals, a rate line without a target,
silence elsewhere."""

from __future__ import annotations

import io

import pytest

import keras_monitored as km
from tests.test_timer import FakeClock


class Terminal(io.StringIO):
    def isatty(self):
        return True


def loss_step():
    import tensorflow as tf

    return {"loss": tf.constant(0.5)}


def test_bar_with_last_step_from_stop_at_step_hook():
    terminal = Terminal()
    clock = FakeClock()
    bar = km.hooks.ProgressBarHook(
        tensors=["loss"], stream=terminal, every_n_secs=1.0, clock=clock
    )
    stop = km.hooks.StopAtStepHook(last_step=10)
    with km.MonitoredSession(hooks=[bar, stop]) as sess:
        while not sess.should_stop():
            clock.now += 0.5
            sess.run(loss_step)
    text = terminal.getvalue()
    assert "10/10" in text and "loss: 0.5000" in text
    assert "━━━━━━━━━━━━━━━━━━━━" in text  # Keras's bar, drawn full


def test_rate_line_without_a_target():
    terminal = Terminal()
    clock = FakeClock()
    bar = km.hooks.ProgressBarHook(
        tensors={"loss": "loss"}, stream=terminal, every_n_secs=2.0, clock=clock
    )
    with km.MonitoredSession(hooks=[bar]) as sess:
        for _ in range(6):
            clock.now += 1.0
            sess.run(loss_step)
    lines = terminal.getvalue().splitlines()
    assert lines == [
        "step: 1 | steps/sec: 1.0 | loss: 0.5",
        "step: 3 | steps/sec: 1.0 | loss: 0.5",
        "step: 5 | steps/sec: 1.0 | loss: 0.5",
    ]


@pytest.mark.parametrize(
    "stream, last_step, redraws",
    [
        pytest.param(Terminal(), None, [1, 3, 5], id="terminal"),
        pytest.param(io.StringIO(), None, [], id="not_a_terminal"),
        pytest.param(io.StringIO(), 6, [], id="not_a_terminal_bar"),
    ],
)
def test_values_are_fetched_only_for_a_redraw(stream, last_step, redraws):
    """Quiet off a terminal: nothing drawn, and nothing fetched."""
    fetched_at = []

    def loss():  # a callable fetch: called only when the hook asks for it
        fetched_at.append(int(km.get_global_step().numpy()))
        return 0.5

    clock = FakeClock()
    bar = km.hooks.ProgressBarHook(
        last_step=last_step,
        tensors={"loss": loss},
        stream=stream,
        every_n_secs=2.0,
        clock=clock,
    )
    with km.MonitoredSession(hooks=[bar]) as sess:
        for _ in range(6):
            clock.now += 1.0
            sess.run(loss_step)
    assert fetched_at == redraws
    assert stream.getvalue().splitlines() == [
        f"step: {step} | steps/sec: 1.0 | loss: 0.5" for step in redraws
    ]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(last_step=0), ValueError, "last_step=0", id="last_step"
        ),
        pytest.param(
            dict(tensors="loss"), TypeError, "tensors='loss'", id="tensors"
        ),
        pytest.param(
            dict(every_n_secs=0),
            ValueError,
            "every_n_secs=0",
            id="every_n_secs",
        ),
        pytest.param(dict(stream=5), TypeError, "stream=5", id="stream"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.hooks.ProgressBarHook(**kwargs)
