"""CallbackHook calls callbacks as fit does: uncompiled models, the
stop_training flag reset at start, scalar logs only (said once), and warnings
for monitored metrics that nothing provides."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import logging

import keras_monitored as km
from tests import callback_scenarios as scenario


@pytest.fixture
def warnings_logged():
    """The absl WARNING lines logged while the test runs."""
    lines = []

    class Capture(logging.logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.logging.WARNING:
                lines.append(record.getMessage())

    handler = Capture()
    logging.get_absl_logger().addHandler(handler)
    yield lines
    logging.get_absl_logger().removeHandler(handler)


def test_uncompiled_model_with_its_own_optimizer_runs_callbacks():
    """The README's pattern. Before: AttributeError: 'Sequential' object has
    no attribute 'stop_training', after the first step."""
    model = scenario.build_model(compiled=False)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=10)
    scenario.session(model, [stopper, keras.callbacks.TerminateOnNaN()])
    assert int(km.get_global_step().numpy()) == 40
    assert model.history.epoch == [0, 1, 2, 3]
    assert stopper.best == pytest.approx(min(model.history.history["loss"]))


def test_a_model_an_earlier_session_stopped_trains_again():
    """fit resets model.stop_training when training starts. Before: the
    second session stopped after one step."""
    model = scenario.build_model()
    model.stop_training = True  # e.g. EarlyStopping in an earlier run
    scenario.session(model, [keras.callbacks.TerminateOnNaN()])
    assert int(km.get_global_step().numpy()) == 40
    assert model.stop_training is False


def test_non_scalar_outputs_are_left_out_of_the_logs_and_said_once(
    warnings_logged,
):
    """Before: `Expected scalar shape, saw shape: (8,)` inside a callback,
    naming no output."""
    seen = []
    recorder = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(dict(logs))
    )
    scenario.session(
        scenario.build_model(),
        [recorder],
        extra_outputs=lambda x, prediction: {
            "predictions": tf.squeeze(prediction, -1),
            "first": prediction[0, 0],
        },
    )
    assert len(seen) == 40
    assert sorted(seen[0]) == ["first", "loss", "mae"]
    notes = [line for line in warnings_logged if "not scalars" in line]
    assert len(notes) == 1
    assert "predictions (shape (8,), dtype float32)" in notes[0]


@pytest.mark.filterwarnings("ignore:Early stopping conditioned")
def test_a_monitored_metric_nothing_provides_is_named(warnings_logged):
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    scenario.session(scenario.build_model(), [stopper])
    notes = [line for line in warnings_logged if "'val_loss'" in line]
    assert len(notes) == 1
    assert "EarlyStopping monitors 'val_loss'" in notes[0]
    assert "available: loss, mae" in notes[0]
    assert "validation_fn" in notes[0]


def test_validation_results_join_the_epoch_logs():
    model = scenario.build_model()
    scenario.session(model, [], validation=True)
    assert sorted(model.history.history) == [
        "loss",
        "mae",
        "val_loss",
        "val_mae",
    ]
    x, y = scenario.validation_data()
    final = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert model.history.history["val_loss"][-1] == pytest.approx(
        final, rel=1e-4
    )


@pytest.mark.parametrize(
    "validation_fn, error, message",
    [
        (lambda: 3.0, TypeError, "must return a dict of scalars"),
        (
            lambda: {"loss": tf.zeros([4])},
            ValueError,
            "these are not: loss (shape (4,), dtype float32)",
        ),
    ],
)
def test_a_bad_validation_result_is_named(validation_fn, error, message):
    hook = km.CallbackHook([], steps_per_epoch=2, validation_fn=validation_fn)
    with pytest.raises(error, match=re.escape(message)):
        with km.MonitoredSession(hooks=[hook]) as sess:
            for _ in range(2):
                sess.run(lambda: {"loss": tf.constant(1.0)})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"validation_fn": 3}, TypeError, "validation_fn"),
        ({"verbose": 3}, ValueError, "verbose"),
        ({"verbose": True}, ValueError, "verbose"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.CallbackHook([], **kwargs)


def test_a_checkpoint_saving_every_epoch_monitors_nothing(
    warnings_logged, tmp_path
):
    # ModelCheckpoint's default monitor is val_loss, read only when
    # save_best_only=True.
    saver = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "e{epoch}.weights.h5"), save_weights_only=True
    )
    scenario.session(scenario.build_model(), [saver])
    assert len(list(tmp_path.iterdir())) == 4
    assert not [line for line in warnings_logged if "monitors" in line]
