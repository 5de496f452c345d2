"""CallbackHook: the real Keras callbacks inside a monitored session, compared
with what they do in model.fit on the same data and seed."""

from __future__ import annotations

import csv
import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km

BATCH = 8
STEPS_PER_EPOCH = 8


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS_PER_EPOCH, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3)


def schedule():
    # Learns for two epochs, then stands still: the loss plateaus.
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [2 * STEPS_PER_EPOCH], [0.05, 0.0]
    )


def compiled_model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(schedule()), loss="mse")
    return model


def train_with_session(
    model,
    callbacks,
    epochs,
    checkpoint_dir=None,
    steps_per_epoch=STEPS_PER_EPOCH,
):
    """model.fit's loop, written as a monitored session with CallbackHook."""
    x, y = data()
    batches = iter(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()
    )
    loss_fn = keras.losses.MeanSquaredError()

    def train_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    hook = km.CallbackHook(
        callbacks, model=model, steps_per_epoch=steps_per_epoch
    )
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=checkpoint_dir,
        scaffold=scaffold,
        save_checkpoint_steps=STEPS_PER_EPOCH,
        save_summaries_steps=None,
        log_step_count_steps=None,
        hooks=[hook, km.StopAtStepHook(last_step=epochs * STEPS_PER_EPOCH)],
    ) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": batches})
    return hook


def train_with_fit(model, callbacks, epochs):
    x, y = data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_early_stopping_stops_at_the_same_epoch_as_fit(tmp_path):
    stoppers = {}
    for name, train in (
        ("fit", train_with_fit),
        ("session", train_with_session),
    ):
        stoppers[name] = keras.callbacks.EarlyStopping(
            monitor="loss", min_delta=1e-3, patience=2
        )
        train(
            compiled_model(),
            [
                stoppers[name],
                keras.callbacks.CSVLogger(str(tmp_path / f"{name}.csv")),
            ],
            8,
        )
    # Best at epoch 3, no improvement for 2 epochs: both stop after epoch 5.
    assert (
        stoppers["fit"].stopped_epoch == stoppers["session"].stopped_epoch == 5
    )
    assert stoppers["fit"].best_epoch == stoppers["session"].best_epoch == 3
    assert stoppers["fit"].best == pytest.approx(
        stoppers["session"].best, rel=1e-5
    )
    fit_rows, session_rows = (
        read_csv(tmp_path / "fit.csv"),
        read_csv(tmp_path / "session.csv"),
    )
    assert (
        [r["epoch"] for r in fit_rows]
        == [r["epoch"] for r in session_rows]
        == ["0", "1", "2", "3", "4", "5"]
    )
    for fit_row, session_row in zip(fit_rows, session_rows):
        assert float(session_row["loss"]) == pytest.approx(
            float(fit_row["loss"]), rel=1e-5
        )


def test_callback_call_sequence_matches_fit():
    def recorder(log):
        return keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: log.append("train_begin"),
            on_epoch_begin=lambda epoch, logs: log.append(
                f"epoch_begin {epoch}"
            ),
            on_train_batch_begin=lambda batch, logs: log.append(
                f"batch_begin {batch}"
            ),
            on_train_batch_end=lambda batch, logs: log.append(
                f"batch_end {batch} {sorted(logs)}"
            ),
            on_epoch_end=lambda epoch, logs: log.append(
                f"epoch_end {epoch} {sorted(logs)}"
            ),
            on_train_end=lambda logs: log.append("train_end"),
        )

    fit_log, session_log = [], []
    train_with_fit(compiled_model(), [recorder(fit_log)], 2)
    train_with_session(compiled_model(), [recorder(session_log)], 2)
    assert session_log == fit_log


@pytest.mark.parametrize("save_freq", ["epoch", 5])
def test_model_checkpoint_saves_the_same_files_as_fit(tmp_path, save_freq):
    listings = {}
    for name, train in (
        ("fit", train_with_fit),
        ("session", train_with_session),
    ):
        directory = tmp_path / name
        directory.mkdir()
        pattern = (
            "w-{epoch}.weights.h5"
            if save_freq == "epoch"
            else "w-{epoch}-{batch}.weights.h5"
        )
        checkpoint = keras.callbacks.ModelCheckpoint(
            str(directory / pattern),
            save_weights_only=True,
            save_freq=save_freq,
        )
        train(compiled_model(), [checkpoint], 2)
        listings[name] = sorted(os.listdir(directory))
    expected = (
        ["w-1.weights.h5", "w-2.weights.h5"]
        if save_freq == "epoch"
        else ["w-1-5.weights.h5", "w-2-2.weights.h5", "w-2-7.weights.h5"]
    )
    assert listings["session"] == listings["fit"] == expected


def test_terminate_on_nan_and_reduce_lr_on_plateau():
    model = compiled_model()
    model.optimizer = keras.optimizers.SGD(0.05)
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=10.0
    )
    train_with_session(model, [reduce], 3)
    # Epoch 0 sets the best; epochs 1 and 2 do not improve by 10: two halvings.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0125)

    model = compiled_model()
    weights = model.get_weights()
    weights[0][:] = np.nan
    model.set_weights(weights)
    km.reset_global_step()
    hook = train_with_session(model, [keras.callbacks.TerminateOnNaN()], 3)
    assert model.stop_training and km.get_global_step().numpy() == 1
    assert hook.callbacks[0].model is model


def test_tensorboard_writes_epoch_scalars_on_the_global_step(tmp_path):
    board = keras.callbacks.TensorBoard(
        str(tmp_path), update_freq=4, write_graph=False
    )
    train_with_session(compiled_model(), [board], 2)
    events = glob.glob(str(tmp_path / "train" / "events.out.tfevents.*"))
    tags = {}
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    assert sorted(tags["epoch_loss"]) == [0, 1]
    assert sorted(tags["batch_loss"]) == [4, 8, 12, 16]  # every 4 batches


def test_progbar_logger_prints_epochs(capsys):
    train_with_session(compiled_model(), [keras.callbacks.ProgbarLogger()], 2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_whole_run_is_one_epoch_and_a_partial_epoch_is_closed():
    log = []
    spy = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: log.append(("begin", epoch)),
        on_epoch_end=lambda epoch, logs: log.append(
            ("end", epoch, round(logs["loss"], 6))
        ),
    )
    hook = train_with_session(compiled_model(), [spy], 2, steps_per_epoch=None)
    assert [e[:2] for e in log] == [("begin", 0), ("end", 0)]
    km.reset_global_step()
    log.clear()
    train_with_session(
        compiled_model(), [spy], epochs=1, steps_per_epoch=5
    )  # 8 steps: 5 + partial 3
    assert [e[:2] for e in log] == [
        ("begin", 0),
        ("end", 0),
        ("begin", 1),
        ("end", 1),
    ]
    assert hook.next_trigger_step(3) is None


def test_callback_state_survives_a_restart(tmp_path):
    """Stopped (cleanly) after 2 of 8 epochs, resumed: EarlyStopping's
    best/wait and the CSV continue as in one uninterrupted run."""
    straight = keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e-3, patience=2
    )
    train_with_session(
        compiled_model(),
        [straight, keras.callbacks.CSVLogger(str(tmp_path / "straight.csv"))],
        8,
    )
    km.reset_global_step()
    directory = str(tmp_path / "run")
    first = keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e-3, patience=2
    )
    train_with_session(
        compiled_model(),
        [first, keras.callbacks.CSVLogger(str(tmp_path / "resumed.csv"))],
        2,
        checkpoint_dir=directory,
    )
    km.reset_global_step()
    resumed = keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e-3, patience=2
    )
    train_with_session(
        compiled_model(),
        [resumed, keras.callbacks.CSVLogger(str(tmp_path / "resumed.csv"))],
        8,
        checkpoint_dir=directory,
    )
    assert (resumed.stopped_epoch, resumed.best_epoch, resumed.wait) == (
        straight.stopped_epoch,
        straight.best_epoch,
        straight.wait,
    )
    assert resumed.best == pytest.approx(straight.best, rel=1e-6)
    straight_rows, resumed_rows = (
        read_csv(tmp_path / "straight.csv"),
        read_csv(tmp_path / "resumed.csv"),
    )
    assert [r["epoch"] for r in resumed_rows] == [
        r["epoch"] for r in straight_rows
    ]
    for a, b in zip(straight_rows, resumed_rows):
        assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=1e-5)


def test_chief_only_callbacks_run_only_on_the_chief(tmp_path):
    log = []
    spy = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: log.append("began")
    )
    with km.MonitoredTrainingSession(
        is_chief=False, chief_only_hooks=[km.CallbackHook([spy])]
    ) as sess:
        sess.run(lambda: {"loss": tf.constant(1.0)})
    assert log == []
    with km.MonitoredTrainingSession(
        is_chief=True, chief_only_hooks=[km.CallbackHook([spy])]
    ) as sess:
        sess.run(lambda: {"loss": tf.constant(1.0)})
    assert log == ["began"]


def test_a_callback_needing_the_model_says_so():
    hook = km.CallbackHook(
        [keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0)],
        steps_per_epoch=1,
    )
    with pytest.raises(AttributeError, match="without a model. Pass `model=`"):
        with km.MonitoredSession(hooks=[hook]) as sess:
            for _ in range(3):
                sess.run(lambda: {"loss": tf.constant(1.0)})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(callbacks="cb"), TypeError, "callbacks='cb'", id="callbacks"
        ),
        pytest.param(
            dict(callbacks=[object()]),
            TypeError,
            r"callbacks\[0\]",
            id="callback_element",
        ),
        pytest.param(
            dict(callbacks=[], model="m"), TypeError, "model='m'", id="model"
        ),
        pytest.param(
            dict(callbacks=[], steps_per_epoch=0),
            ValueError,
            "steps_per_epoch=0",
            id="steps",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.CallbackHook(**kwargs)


def test_in_process_recovery_rolls_callbacks_back_with_the_variables(tmp_path):
    """An AbortedError mid-epoch: the session restores the last checkpoint
    (the end of epoch 0), and the epoch bookkeeping goes back with it."""
    log = []
    spy = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: log.append(("begin", epoch)),
        on_train_batch_begin=lambda batch, logs: log.append(("batch", batch)),
        on_epoch_end=lambda epoch, logs: log.append(("end", epoch)),
    )

    class AbortOnce(km.SessionRunHook):
        fired = False

        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            if not self.fired and run_values.results == 11:
                AbortOnce.fired = True
                raise tf.errors.AbortedError(None, None, "lost a worker")

    weight = tf.Variable(0.0)
    hook = km.CallbackHook([spy], steps_per_epoch=8)
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        save_checkpoint_steps=8,
        save_summaries_steps=None,
        log_step_count_steps=None,
        hooks=[hook, AbortOnce(), km.StopAtStepHook(last_step=16)],
    ) as sess:
        while not sess.should_stop():
            sess.run(lambda: {"loss": weight.assign_add(1.0)})
    assert AbortOnce.fired
    batches = [b for kind, b in log if kind == "batch"]
    assert all(0 <= b < 8 for b in batches)
    epochs = [e for e in log if e[0] != "batch"]
    # Epoch 1 ran steps 9..11, failed, and restarted from step 8.
    assert epochs == [
        ("begin", 0),
        ("end", 0),
        ("begin", 1),
        ("begin", 1),
        ("end", 1),
    ]
    # Steps 9..11 were rolled back with the checkpoint and redone (else 19).
    assert weight.numpy() == 16.0
