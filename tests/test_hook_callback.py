"""HookCallback: TF1-style and km hooks inside Keras 3 model.fit."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.test_differential_hooks import captured_lines

tf1 = tf.compat.v1


def make_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def make_model(steps_per_execution=1):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        steps_per_execution=steps_per_execution,
    )
    return model


class Recorder(tf1.train.SessionRunHook):
    """A custom hook written for TF1 (subclass of TF1's class)."""

    def __init__(self):
        self.events = []

    def begin(self):
        self.events.append(("begin", tf1.train.get_global_step() is not None))

    def after_create_session(self, session, coord):
        self.events.append(
            ("after_create_session", int(session.run("global_step")))
        )

    def before_run(self, run_context):
        self.events.append(("before_run",))
        return tf1.train.SessionRunArgs({"loss": "loss", "step": "global_step"})

    def after_run(self, run_context, run_values):
        self.events.append(
            (
                "after_run",
                float(run_values.results["loss"]),
                int(run_values.results["step"]),
            )
        )

    def end(self, session):
        self.events.append(("end", int(session.run("global_step"))))


def test_tf1_hook_subclass_sees_what_keras_reports():
    x, y = make_data()
    model = make_model()
    recorder = Recorder()
    keras_logs = []
    record_logs = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: keras_logs.append(logs["loss"])
    )
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        verbose=0,
        callbacks=[km.HookCallback([recorder]), record_logs],
    )
    runs = [e for e in recorder.events if e[0] == "after_run"]
    assert recorder.events[:2] == [("begin", True), ("after_create_session", 0)]
    assert recorder.events[-1] == ("end", 8)
    assert [e[0] for e in recorder.events[2:-1]] == [
        "before_run",
        "after_run",
    ] * 8
    assert [
        loss for _, loss, _ in runs
    ] == keras_logs  # the very values Keras logged
    assert [step for _, _, step in runs] == list(range(1, 9))


def test_tf1_stop_at_step_stops_fit_at_the_exact_step():
    x, y = make_data()
    model = make_model()
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=50,
        verbose=0,
        callbacks=[km.HookCallback([tf1.train.StopAtStepHook(last_step=19)])],
    )
    assert int(model.optimizer.iterations.numpy()) == 19
    assert len(history.history["loss"]) == 3  # stopped inside the third epoch


def test_steps_per_execution_global_step_is_exact():
    x, y = make_data()
    model = make_model(steps_per_execution=3)
    recorder = Recorder()
    keras_batches = []
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: keras_batches.append(batch)
    )
    seen_steps = []

    class Steps(km.SessionRunHook):
        def before_run(self, run_context):
            seen_steps.append(run_context.num_steps)

    model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[km.HookCallback([recorder, Steps()]), spy],
    )
    steps = [e[2] for e in recorder.events if e[0] == "after_run"]
    assert steps == [3, 6, 8]  # one run per execution; the last one ran 2 steps
    assert keras_batches == [
        2,
        5,
        8,
    ]  # Keras's own index overshoots the 8 batches
    assert seen_steps == [3, 3, 3]


def test_logging_tensor_hook_inside_fit():
    x, y = make_data()
    model = make_model()
    hook = km.hooks.LoggingTensorHook(
        {"loss": "loss", "step": "global_step"}, every_n_iter=3
    )
    with captured_lines(r"^loss = ") as lines:
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[km.HookCallback([hook])],
        )
    assert [line.split("step = ")[1].split(" ")[0] for line in lines] == [
        "1",
        "4",
        "7",
    ]


def test_checkpoint_saver_hook_inside_fit_saves_model_and_optimizer(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[
            km.HookCallback(
                [km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=5)]
            )
        ],
    )
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-16")
    restored = make_model()
    restored.optimizer.build(restored.trainable_variables)
    tf.train.Checkpoint(model=restored, optimizer=restored.optimizer).restore(
        tf.train.latest_checkpoint(str(tmp_path))
    ).expect_partial()
    for got, want in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert int(restored.optimizer.iterations.numpy()) == 16


def test_a_feeding_hook_is_refused_with_its_name():
    x, y = make_data()
    model = make_model()
    with pytest.raises(
        ValueError,
        match=r"FeedFnHook returned a feed_dict \(\['scale'\]\).*model.fit owns",
    ):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[
                km.HookCallback([km.hooks.FeedFnHook(lambda: {"scale": 2.0})])
            ],
        )


def test_chief_only_hooks_run_only_on_the_chief(monkeypatch):
    x, y = make_data()
    chief_recorder, worker_recorder = Recorder(), Recorder()
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["a:1", "b:2"]},
                "task": {"type": "worker", "index": 1},
            }
        ),
    )
    make_model().fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[
            km.HookCallback(
                [worker_recorder], chief_only_hooks=[chief_recorder]
            )
        ],
    )
    assert chief_recorder.events == [] and worker_recorder.events
    make_model().fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[
            km.HookCallback(
                [], chief_only_hooks=[chief_recorder], is_chief=True
            )
        ],
    )
    assert chief_recorder.events


def test_request_stop_and_state_outside_fit():
    x, y = make_data()
    model = make_model()

    class StopAtLossBelow(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs("loss")

        def after_run(self, run_context, run_values):
            if run_values.results < 1.0:
                run_context.request_stop()

    callback = km.HookCallback([StopAtLossBelow()])
    model.fit(x, y, batch_size=8, epochs=100, verbose=0, callbacks=[callback])
    assert model.stop_training
    assert int(model.optimizer.iterations.numpy()) < 800
    assert km.get_global_step() is None  # the fit global step is unregistered


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(dict(hooks="hook"), TypeError, "hooks='hook'", id="hooks"),
        pytest.param(
            dict(hooks=[object()]), TypeError, r"hooks\[0\]", id="hook_element"
        ),
        pytest.param(
            dict(chief_only_hooks=[1]),
            TypeError,
            r"chief_only_hooks\[0\]",
            id="chief_only",
        ),
        pytest.param(
            dict(is_chief="no"), TypeError, "is_chief='no'", id="is_chief"
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.HookCallback(**kwargs)


def test_uncompiled_model_is_a_clear_error():
    x, y = make_data()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    callback = km.HookCallback([])
    callback.set_model(model)
    with pytest.raises(ValueError, match="needs a compiled model"):
        callback.on_train_begin()


def test_a_failed_fit_leaves_the_process_global_step_alone():
    x, y = make_data()
    model = make_model()
    own = km.get_or_create_global_step()

    class Boom(km.SessionRunHook):
        def begin(self):
            assert (
                tf1.train.get_global_step() is not own
            )  # fit's counter meanwhile

        def after_run(self, run_context, run_values):
            raise ValueError("hook failed")

    with pytest.raises(ValueError, match="hook failed"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[km.HookCallback([Boom()])]
        )
    assert km.get_global_step() is own
    with km.MonitoredSession() as sess:
        sess.run(lambda: {})
    assert int(model.optimizer.iterations.numpy()) == 1 and own.numpy() == 1


def test_a_second_fit_resumes_from_the_hooks_checkpoint(tmp_path):
    """TF1 chief semantics in fit: the CheckpointSaverHook's directory is
    restored at the start (weights, optimizer, iterations, hooks' state)."""
    x, y = make_data()

    def fit_with(model, epochs, extra=()):
        logger = km.hooks.LoggingTensorHook(
            {"step": "global_step"}, every_n_iter=5
        )
        hooks = [
            km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=4),
            logger,
            km.hooks.StopAtStepHook(num_steps=6),
        ]
        callbacks = [km.HookCallback(hooks), *extra]
        with captured_lines(r"^step = ") as lines:
            model.fit(
                x,
                y,
                batch_size=8,
                epochs=epochs,
                verbose=0,
                callbacks=callbacks,
            )
        return [int(line.split(" ")[2]) for line in lines]

    first = make_model()
    assert fit_with(first, 10) == [1, 6]
    weights = first.get_weights()
    second = make_model()
    assert not np.allclose(second.get_weights()[0], weights[0])  # a fresh start
    seen = []
    # Restored before the first batch (after every callback's
    # on_train_begin: a BackupAndRestore would decide instead).
    spy = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(
            second.get_weights()
        )
    )
    # Restored: iterations 6 (so StopAtStepHook(num_steps=6) ends at 12), the
    # logger's cadence (next line at step 11, not at once), the weights.
    second_lines = fit_with(second, 10, extra=[spy])
    assert second_lines == [11]
    assert int(second.optimizer.iterations.numpy()) == 12
    for got, want in zip(seen[0], weights):
        np.testing.assert_array_equal(got, want)
