"""Every class in `keras.callbacks`, run in `model.fit` and through
CallbackHook in a km session on the same model, seed and data (4 epochs x
10 steps): the observable results must be the same."""

from __future__ import annotations

import csv
import glob
import http.server
import json
import os
import re
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import callback_scenarios as scenario


def both(make_callbacks, **kwargs):
    """Runs the scenario in fit and in a session; returns
    {"fit": (model, callbacks), "session": (model, callbacks)}."""
    runs = {}
    for name, train in (("fit", scenario.fit), ("session", scenario.session)):
        model = scenario.build_model(
            **{k: kwargs[k] for k in ("use_ema",) if k in kwargs}
        )
        callbacks = make_callbacks(name)
        train(
            model,
            callbacks,
            **{k: v for k, v in kwargs.items() if k in ("validation",)},
        )
        runs[name] = (model, callbacks)
    return runs


def assert_logs_equal(fit_logs, session_logs):
    assert sorted(fit_logs) == sorted(session_logs)
    for key in fit_logs:
        assert session_logs[key] == pytest.approx(fit_logs[key], rel=1e-4), key


class Recorder(keras.callbacks.Callback):
    """Records every call with its logs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, name, index=None, logs=None):
        self.calls.append((name, index, dict(logs or {})))

    def on_train_begin(self, logs=None):
        self._record("train_begin", None, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("batch_end", batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", epoch, logs)

    def on_train_end(self, logs=None):
        self._record("train_end", None, logs)


def test_callback_sees_fits_calls_and_running_mean_batch_logs():
    runs = both(lambda name: [Recorder()])
    fit_calls = runs["fit"][1][0].calls
    session_calls = runs["session"][1][0].calls
    assert [c[:2] for c in fit_calls] == [c[:2] for c in session_calls]
    assert len([c for c in fit_calls if c[0] == "batch_end"]) == 40
    for fit_call, session_call in zip(fit_calls, session_calls):
        assert_logs_equal(fit_call[2], session_call[2])
    # Running means: the batch-5 logs are the mean of batches 0..5.
    batch_logs = [c[2]["loss"] for c in session_calls if c[0] == "batch_end"]
    assert batch_logs[1] != pytest.approx(batch_logs[0])


def test_callback_list_is_accepted_as_fit_accepts_it():
    # fit's own loop needs a History in a CallbackList it is given.
    runs = both(
        lambda name: (
            [Recorder()]
            if name == "fit"
            else keras.callbacks.CallbackList([Recorder()])
        )
    )
    fit_recorder = runs["fit"][1][0]
    session_recorder = runs["session"][1].callbacks[0]
    assert [c[:2] for c in fit_recorder.calls] == [
        c[:2] for c in session_recorder.calls
    ]


def test_history_is_set_on_the_model_with_fits_values():
    runs = both(lambda name: [])
    fit_history = runs["fit"][0].history
    session_history = runs["session"][0].history
    assert isinstance(session_history, keras.callbacks.History)
    assert fit_history.epoch == session_history.epoch == [0, 1, 2, 3]
    assert sorted(fit_history.history) == sorted(session_history.history)
    for key, values in fit_history.history.items():
        np.testing.assert_allclose(
            session_history.history[key], values, rtol=1e-4
        )


def test_lambda_callback_gets_fits_epoch_logs():
    def make(name):
        logs = []
        callback = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, epoch_logs: logs.append(
                (epoch, dict(epoch_logs))
            )
        )
        callback.seen = logs
        return [callback]

    runs = both(make)
    fit_seen, session_seen = (runs[k][1][0].seen for k in ("fit", "session"))
    assert [e for e, _ in fit_seen] == [e for e, _ in session_seen]
    for (_, fit_logs), (_, session_logs) in zip(fit_seen, session_seen):
        assert_logs_equal(fit_logs, session_logs)


def learning_rates(model):
    return float(np.array(model.optimizer.learning_rate))


def test_learning_rate_scheduler_gives_the_same_rates_and_logs():
    def make(name):
        return [
            keras.callbacks.LearningRateScheduler(
                lambda epoch, lr: lr * 0.5 if epoch else lr
            ),
            Recorder(),
        ]

    runs = both(make)
    for key in ("fit", "session"):
        runs[key] = runs[key] + (
            [
                c[2]["learning_rate"]
                for c in runs[key][1][1].calls
                if c[0] == "epoch_end"
            ],
        )
    assert runs["fit"][2] == pytest.approx(runs["session"][2])
    assert runs["fit"][2] == pytest.approx([0.05, 0.025, 0.0125, 0.00625])
    np.testing.assert_allclose(
        scenario.weights(runs["fit"][0])[0],
        scenario.weights(runs["session"][0])[0],
        rtol=1e-4,
    )


def test_reduce_lr_on_plateau_reduces_at_the_same_epochs():
    def make(name):
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=0.5, patience=0, min_delta=10.0
            ),
            Recorder(),
        ]

    runs = both(make)
    rates = {
        key: [
            c[2]["learning_rate"]
            for c in runs[key][1][1].calls
            if c[0] == "epoch_end"
        ]
        for key in runs
    }
    assert rates["fit"] == pytest.approx(rates["session"])
    assert rates["fit"][-1] < rates["fit"][0]


def test_early_stopping_on_val_loss_through_validation_fn_stops_as_fit():
    def make(name):
        return [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=0, min_delta=0.5
            ),
            Recorder(),
        ]

    runs = both(make, validation=True)
    fit_stopper, session_stopper = (runs[k][1][0] for k in ("fit", "session"))
    assert fit_stopper.stopped_epoch == session_stopper.stopped_epoch
    assert fit_stopper.stopped_epoch > 0
    assert fit_stopper.best == pytest.approx(session_stopper.best, rel=1e-4)
    fit_epochs, session_epochs = (
        [c[2] for c in runs[k][1][1].calls if c[0] == "epoch_end"]
        for k in ("fit", "session")
    )
    assert len(fit_epochs) == len(session_epochs) < scenario.EPOCHS
    for fit_logs, session_logs in zip(fit_epochs, session_epochs):
        assert_logs_equal(fit_logs, session_logs)


def test_model_checkpoint_at_batch_frequency_names_files_as_fit(tmp_path):
    # (save_best_only at a batch frequency fails inside fit itself: Keras
    # sets its monitor_op only at an epoch end.)
    def make(name):
        return [
            keras.callbacks.ModelCheckpoint(
                str(
                    tmp_path / name / "w-{epoch}-{batch}-{loss:.4f}.weights.h5"
                ),
                save_freq=3,
                save_weights_only=True,
            )
        ]

    both(make)
    names = {
        key: sorted(os.listdir(tmp_path / key)) for key in ("fit", "session")
    }
    assert names["fit"] == names["session"]
    # 40 batches, every third: the names carry fit's running-mean loss.
    assert len(names["fit"]) == 13


def test_csv_logger_writes_fits_rows(tmp_path):
    both(
        lambda name: [keras.callbacks.CSVLogger(str(tmp_path / f"{name}.csv"))]
    )
    rows = {}
    for key in ("fit", "session"):
        with open(tmp_path / f"{key}.csv") as handle:
            rows[key] = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows["fit"]] == ["0", "1", "2", "3"]
    assert list(rows["fit"][0]) == list(rows["session"][0])
    for fit_row, session_row in zip(rows["fit"], rows["session"]):
        for key in fit_row:
            if fit_row[key] == "NA":  # Keras's val_ columns without them
                assert session_row[key] == "NA"
                continue
            assert float(session_row[key]) == pytest.approx(
                float(fit_row[key]), rel=1e-4
            )


def scalar_events(directory):
    values = {}
    for path in glob.glob(
        os.path.join(directory, "**", "events*"), recursive=True
    ):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue
                number = float(tf.make_ndarray(value.tensor))
                run = os.path.basename(os.path.dirname(path))
                values[(run, value.tag, event.step)] = number
    return values


def test_tensorboard_batch_and_epoch_scalars_match_fit(tmp_path):
    both(
        lambda name: [
            keras.callbacks.TensorBoard(str(tmp_path / name), update_freq=1)
        ]
    )
    fit_values = scalar_events(tmp_path / "fit")
    session_values = scalar_events(tmp_path / "session")
    assert {k for k in fit_values if k[0] == "train"} == {
        k for k in session_values if k[0] == "train"
    }
    assert ("train", "batch_loss", 39) in fit_values
    assert ("train", "epoch_loss", 3) in fit_values
    for key, value in fit_values.items():
        if key[0] == "train":
            assert session_values[key] == pytest.approx(value, rel=1e-4), key


def test_terminate_on_nan_stops_at_the_same_batch():
    def make(name):
        return [keras.callbacks.TerminateOnNaN(), Recorder()]

    def nan_model(**kwargs):
        model = scenario.build_model(learning_rate=1e9)
        return model

    runs = {}
    for name, train in (("fit", scenario.fit), ("session", scenario.session)):
        model = nan_model()
        callbacks = make(name)
        train(model, callbacks)
        runs[name] = [c[:2] for c in callbacks[1].calls]
    assert runs["fit"] == runs["session"]
    assert len(runs["fit"]) < 4 * scenario.STEPS_PER_EPOCH


def progbar_lines(text):
    """The progress bar's output without its timings."""
    text = re.sub(r"\d+(\.\d+)?(ms|s|us)(/step)?", "T", text)
    text = text.replace("\x08", "")
    return [
        " ".join(line.split())
        for line in re.split(r"[\r\n]", text)
        if line.strip()
    ]


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_logger_prints_what_fit_prints(capsys, verbose):
    outputs = {}
    for name, train in (("fit", scenario.fit), ("session", scenario.session)):
        model = scenario.build_model()
        capsys.readouterr()
        if name == "fit":
            train(model, [], verbose=verbose)
        else:
            train(model, [keras.callbacks.ProgbarLogger()], verbose=verbose)
        outputs[name] = progbar_lines(capsys.readouterr().out)
    assert outputs["fit"] == outputs["session"]
    assert "Epoch 4/4" in outputs["fit"]


def test_swap_ema_weights_and_ema_finalization_match_fit(tmp_path):
    def make(name):
        return [
            keras.callbacks.SwapEMAWeights(swap_on_epoch=True),
            keras.callbacks.ModelCheckpoint(
                str(tmp_path / name / "e{epoch}.weights.h5"),
                save_weights_only=True,
            ),
        ]

    runs = both(make, use_ema=True)
    fit_model, session_model = runs["fit"][0], runs["session"][0]
    # finalize_variable_values put the EMA weights in the model.
    for fit_w, session_w in zip(
        scenario.weights(fit_model), scenario.weights(session_model)
    ):
        np.testing.assert_allclose(session_w, fit_w, rtol=1e-4, atol=1e-6)
    for epoch in range(1, 5):
        for model, name in ((fit_model, "fit"), (session_model, "session")):
            model.load_weights(str(tmp_path / name / f"e{epoch}.weights.h5"))
        for fit_w, session_w in zip(
            scenario.weights(fit_model), scenario.weights(session_model)
        ):
            np.testing.assert_allclose(session_w, fit_w, rtol=1e-4, atol=1e-6)


def test_ema_weights_are_finalized_at_the_end_as_fit_does():
    plain = scenario.build_model(use_ema=True)
    scenario.session(plain, [])
    fitted = scenario.build_model(use_ema=True)
    scenario.fit(fitted, [])
    no_ema = scenario.build_model(use_ema=False)
    scenario.session(no_ema, [])
    for a, b, c in zip(
        scenario.weights(plain),
        scenario.weights(fitted),
        scenario.weights(no_ema),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not all(
        np.allclose(a, c)
        for a, c in zip(scenario.weights(plain), scenario.weights(no_ema))
    )


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(body.decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        del args


def test_remote_monitor_posts_fits_epoch_logs():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    posts = {}
    try:
        for name, train in (
            ("fit", scenario.fit),
            ("session", scenario.session),
        ):
            _Collector.received = []
            train(
                scenario.build_model(),
                [keras.callbacks.RemoteMonitor(root=root, send_as_json=True)],
            )
            posts[name] = [json.loads(body) for body in _Collector.received]
    finally:
        server.shutdown()
    assert len(posts["fit"]) == len(posts["session"]) == 4
    for fit_post, session_post in zip(posts["fit"], posts["session"]):
        assert_logs_equal(fit_post, session_post)
