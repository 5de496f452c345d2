"""LoggingTensorHook: cadence, format, km.expose, clock, resumable counter."""

from __future__ import annotations

import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines
from tests.test_timer import FakeClock


def run_steps(hooks, steps, step_fn):
    with km.MonitoredSession(hooks=hooks) as sess:
        for _ in range(steps):
            sess.run(step_fn)


def test_logs_an_exposed_tensor_at_exactly_its_steps():
    weight = tf.Variable(1.0)

    def step():
        with tf.GradientTape() as tape:
            loss = (weight * 3.0 - 1.0) ** 2
        grad = tape.gradient(loss, weight)
        km.expose("grad", grad)
        weight.assign_sub(0.01 * grad)
        return {"loss": loss}

    expected = []
    w = 1.0
    for _ in range(8):
        grad = 2 * (w * 3.0 - 1.0) * 3.0
        expected.append(grad)
        w -= 0.01 * grad
    hook = km.hooks.LoggingTensorHook(
        {"grad": "grad", "step": "global_step"}, every_n_iter=3
    )
    with captured_lines(r"^grad = ") as lines:
        run_steps([hook], 8, step)
    logged = [
        (
            float(line.split(",")[0].split(" = ")[1]),
            int(line.split("step = ")[1].split(" ")[0]),
        )
        for line in lines
    ]
    assert [step for _, step in logged] == [1, 4, 7]
    assert [value for value, _ in logged] == pytest.approx(
        [expected[0], expected[3], expected[6]], rel=1e-5
    )


def test_every_n_secs_with_an_injected_clock():
    clock = FakeClock()

    def step():
        return {}

    hook = km.hooks.LoggingTensorHook(
        ["global_step"], every_n_secs=1.0, clock=clock
    )
    with captured_lines(r"^global_step = ") as lines:
        with km.MonitoredSession(hooks=[hook]) as sess:
            for _ in range(8):
                clock.now += 0.4
                sess.run(step)
    # Triggers when >= 1 s passed since the last line: steps 1, 4, 7.
    assert [line.split(" ")[2] for line in lines] == ["1", "4", "7"]
    assert (
        lines[0] == "global_step = 1" and lines[1] == "global_step = 4 (X sec)"
    )


def test_list_keeps_order_and_formatter_replaces_format():
    hook = km.hooks.LoggingTensorHook(
        ["z", "a"], every_n_iter=1, formatter=lambda v: f"A={v['a']} Z={v['z']}"
    )
    plain = km.hooks.LoggingTensorHook(["z", "a"], every_n_iter=1)
    with captured_lines(r"^(A=|z = )") as lines:
        run_steps(
            [hook, plain],
            1,
            lambda: {"a": tf.constant(1), "z": tf.constant([1.5, 2.0])},
        )
    assert lines == ["A=1 Z=[1.5 2. ]", "z = [1.5 2. ], a = 1"]


def noop():
    return {}


def test_counter_is_resumable_state(tmp_path):
    def session(hook):
        return km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path), save_checkpoint_steps=2, hooks=[hook]
        )

    first = km.hooks.LoggingTensorHook(["global_step"], every_n_iter=3)
    with captured_lines(r"^global_step = ") as lines:
        with session(first) as sess:
            for _ in range(4):
                sess.run(noop)
        km.reset_global_step()
        second = km.hooks.LoggingTensorHook(["global_step"], every_n_iter=3)
        with session(second) as sess:
            for _ in range(4):
                sess.run(noop)
    # As if never stopped: lines at steps 1, 4, 7 (not 1, 4, 5, 8).
    assert [line.split(" ")[2] for line in lines] == ["1", "4", "7"]


def test_next_trigger_step_maps_iterations_to_global_steps():
    hook = km.hooks.LoggingTensorHook(["loss"], every_n_iter=100)
    hook.begin()
    assert hook.next_trigger_step(500) == 501  # iteration 0 logs
    hook.set_state({"iter_count": 1, "timer": {"last_triggered_step": 0}})
    # Iteration 0 ended at global step 501; iteration 100 ends at 601.
    assert hook.next_trigger_step(501) == 601


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(tensors="loss", every_n_iter=1),
            TypeError,
            "tensors='loss'",
            id="string",
        ),
        pytest.param(
            dict(tensors=[3.5], every_n_iter=1),
            TypeError,
            "invalid type float",
            id="number",
        ),
        pytest.param(
            dict(tensors=["a"], every_n_iter=1.5),
            TypeError,
            "every_n_iter=1.5",
            id="float_iter",
        ),
        pytest.param(
            dict(tensors=["a"], at_end="yes"),
            TypeError,
            "at_end='yes'",
            id="at_end",
        ),
        pytest.param(
            dict(tensors=["a"], every_n_iter=1, formatter="f"),
            TypeError,
            "formatter='f'",
            id="formatter",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.hooks.LoggingTensorHook(**kwargs)


def test_tf1_hook_holding_graph_tensors_gets_advice():
    with tf.Graph().as_default():
        logits = tf.constant(1.0, name="logits")
        tf1_hook = tf.compat.v1.train.LoggingTensorHook(
            {"logits": logits}, every_n_iter=1
        )
    with pytest.raises(
        TypeError,
        match=r"LoggingTensorHook cannot run in TF2.*logits.*km\.expose",
    ):
        km.MonitoredSession(hooks=[tf1_hook])
