"""FinalOpsHook, FeedFnHook, GlobalStepWaiterHook, TF1 translation and
TF1's constructor errors for every standard hook."""

from __future__ import annotations

import pytest
import tensorflow as tf

import keras_monitored as km

tf1 = tf.compat.v1


def scaled_step(scale=1.0):
    return {"loss": tf.constant(2.0) * scale}


def test_final_ops_reads_last_step_outputs_and_variables():
    weight = tf.Variable(3.0)
    hook = km.hooks.FinalOpsHook(
        {"loss": "loss", "w": weight, "double": lambda: weight * 2}
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.run(scaled_step)
        assert hook.final_ops_values is None
    assert hook.final_ops_values == {"loss": 2.0, "w": 3.0, "double": 6.0}


def test_final_ops_with_feed_dict_calls_the_function():
    hook = km.hooks.FinalOpsHook(
        lambda scale: {"s": scale * 10}, final_ops_feed_dict={"scale": 0.5}
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.run(scaled_step)
    assert hook.final_ops_values == {"s": 5.0}
    assert km.get_global_step().numpy() == 1  # not a training step


def test_feed_fn_hook_feeds_step_arguments_and_translates_tf1():
    values = iter([0.5, 2.0, 4.0])
    km_hook = km.hooks.FeedFnHook(lambda: {"scale": next(values)})
    losses = []
    with km.MonitoredSession(hooks=[km_hook]) as sess:
        for _ in range(2):
            losses.append(float(sess.run(scaled_step)["loss"]))
    tf1_hook = tf1.train.FeedFnHook(lambda: {"scale": 3.0})
    with km.MonitoredSession(hooks=[tf1_hook]) as sess:
        losses.append(float(sess.run(scaled_step)["loss"]))
        assert isinstance(sess.hooks[0], km.hooks.FeedFnHook)
    assert losses == [1.0, 4.0, 6.0]


def test_global_step_waiter_waits_for_the_chiefs_checkpoint(tmp_path):
    chief_dir = tmp_path / "chief"
    naps = []

    def fake_sleep(seconds):
        naps.append(seconds)
        assert len(naps) < 10, "still waiting"
        if len(naps) == 3:  # meanwhile the chief saves step 250
            chief = tf.train.Checkpoint(v=tf.Variable(1.0))
            tf.train.CheckpointManager(
                chief, str(chief_dir), 1, checkpoint_name="model.ckpt"
            ).save(250)

    hook = km.hooks.GlobalStepWaiterHook(
        200, checkpoint_dir=str(chief_dir), sleep=fake_sleep
    )
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.run(scaled_step)
        sess.run(scaled_step)
    assert naps == [0.5, 0.5, 0.5]


def test_global_step_waiter_without_a_chief_to_watch_starts_with_a_warning(
    caplog,
):
    naps = []
    hook = tf1.train.GlobalStepWaiterHook(500)  # TF1's, translated
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.hooks[0]._sleep = naps.append
        sess.run(scaled_step)
    assert naps == [] and "nothing can advance the global step" in caplog.text


def test_global_step_waiter_passes_when_the_step_is_reached():
    km.get_or_create_global_step().assign(10)
    naps = []
    hook = tf1.train.GlobalStepWaiterHook(5)
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.hooks[0]._sleep = naps.append
        sess.run(scaled_step)
    assert naps == []


def test_hooks_fetch_only_on_trigger_steps():
    calls = []

    def counted():
        calls.append(int(km.get_global_step().numpy()))
        return 0

    hook = km.hooks.LoggingTensorHook({"c": counted}, every_n_iter=4)
    with km.MonitoredSession(
        hooks=[hook, km.hooks.StopAtStepHook(last_step=10)]
    ) as sess:
        while not sess.should_stop():
            sess.run(scaled_step)
    assert calls == [1, 5, 9]


def test_tf1_step_counter_and_summary_saver_are_translated(tmp_path):
    hooks = [
        tf1.train.StepCounterHook(every_n_steps=7, output_dir=str(tmp_path)),
        tf1.train.SummarySaverHook(
            save_secs=30,
            output_dir=str(tmp_path),
            scaffold=tf1.train.Scaffold(),
        ),
        tf1.train.LoggingTensorHook(
            ["loss", "global_step"], every_n_secs=5, at_end=True
        ),
        tf1.train.NanTensorHook("loss:0", fail_on_nan_loss=False),
    ]
    with km.MonitoredSession(hooks=hooks) as sess:
        translated = sess.hooks
        sess.run(scaled_step)
    assert [type(h).__name__ for h in translated] == [
        "StepCounterHook",
        "SummarySaverHook",
        "LoggingTensorHook",
        "NanTensorHook",
    ]
    assert translated[0]._timer.every_steps == 7
    assert translated[1]._timer.every_secs == 30
    assert (
        translated[2]._tag_order == ["loss", "global_step"]
        and translated[2]._log_at_end
    )


def test_user_subclass_of_a_tf1_standard_hook_gets_advice():
    class MyStop(tf1.train.StopAtStepHook):
        pass

    with pytest.raises(
        TypeError,
        match=r"MyStop subclasses tf.compat.v1.train.StopAtStepHook.*km.hooks.StopAtStepHook",
    ):
        km.MonitoredSession(hooks=[MyStop(last_step=3)])

    class MyKmStop(km.hooks.StopAtStepHook):
        pass

    hook = MyKmStop(last_step=1)
    with km.MonitoredSession(hooks=[hook]) as sess:
        assert sess.hooks[0] is hook


TF1_VALIDATION = [
    ("StopAtStepHook", (), {}),
    ("StopAtStepHook", (), dict(num_steps=1, last_step=1)),
    ("CheckpointSaverHook", ("/tmp/x",), {}),
    (
        "CheckpointSaverHook",
        ("/tmp/x",),
        dict(
            save_steps=1,
            saver=tf.train.Checkpoint(),
            scaffold=tf1.train.Scaffold(),
        ),
    ),
    ("LoggingTensorHook", (["a"],), {}),
    ("LoggingTensorHook", (["a"],), dict(every_n_iter=1, every_n_secs=1)),
    ("LoggingTensorHook", (["a"],), dict(every_n_iter=0)),
    ("LoggingTensorHook", (["a"],), dict(every_n_iter=-2, at_end=True)),
    ("StepCounterHook", (), dict(every_n_steps=None)),
    ("StepCounterHook", (), dict(every_n_steps=2, every_n_secs=2)),
    (
        "SummarySaverHook",
        (),
        dict(save_steps=1, scaffold=tf1.train.Scaffold(), summary_op="s"),
    ),
    ("SummarySaverHook", (), dict(summary_op="s")),
    ("SummarySaverHook", (), dict(save_steps=1, save_secs=1, summary_op="s")),
    ("ProfilerHook", (), {}),
    ("ProfilerHook", (), dict(save_steps=1, save_secs=1)),
    ("SecondOrStepTimer", (), {}),
    ("SecondOrStepTimer", (), dict(every_secs=1, every_steps=1)),
]


@pytest.mark.parametrize(
    "name, args, kwargs",
    TF1_VALIDATION,
    ids=[f"{n}-{'-'.join(k) or 'none'}" for n, _, k in TF1_VALIDATION],
)
def test_same_error_type_and_message_as_tf1(name, args, kwargs):
    with (
        tf.Graph().as_default()
    ):  # TF1's ProfilerHook only constructs in graph mode
        with pytest.raises(Exception) as tf1_error:
            getattr(tf1.train, name)(*args, **kwargs)
    with pytest.raises(Exception) as km_error:
        getattr(km.hooks, name)(*args, **kwargs)
    assert type(km_error.value) is type(tf1_error.value)
    assert str(km_error.value).startswith(str(tf1_error.value))


@pytest.mark.parametrize(
    "factory, kwargs, error, message",
    [
        pytest.param(
            "FinalOpsHook",
            dict(final_ops=3),
            TypeError,
            "final_ops=3",
            id="final_ops",
        ),
        pytest.param(
            "FinalOpsHook",
            dict(final_ops="loss", final_ops_feed_dict={"a": 1}),
            TypeError,
            "final_ops_feed_dict",
            id="feed_without_callable",
        ),
        pytest.param(
            "FinalOpsHook",
            dict(final_ops=len, final_ops_feed_dict=[1]),
            TypeError,
            r"final_ops_feed_dict=\[1\]",
            id="feed_type",
        ),
        pytest.param(
            "FeedFnHook",
            dict(feed_fn={"a": 1}),
            TypeError,
            r"feed_fn=\{'a': 1\}",
            id="feed_fn",
        ),
        pytest.param(
            "GlobalStepWaiterHook",
            dict(wait_until_step="10"),
            TypeError,
            "wait_until_step='10'",
            id="wait",
        ),
        pytest.param(
            "NanTensorHook",
            dict(loss_tensor=None),
            TypeError,
            "loss_tensor=None",
            id="nan_loss",
        ),
        pytest.param(
            "NanTensorHook",
            dict(loss_tensor="loss", fail_on_nan_loss=1),
            TypeError,
            "fail_on_nan_loss=1",
            id="nan_flag",
        ),
    ],
)
def test_bad_arguments(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(km.hooks, factory)(**kwargs)
