"""Preemption: a real SIGTERM makes the session (or model.fit) finish the
step or loop in progress, save a checkpoint at that step and stop; the
handlers are km's only while the session is open.

These tests deliver real signals to this process (`signal.raise_signal`,
`os.kill`); the example binary and MultiWorkerMirrored workers are tested
as subprocesses in test_preemption_processes.py.
"""

from __future__ import annotations

import os
import signal
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km

# Without preemption these sessions would never stop: a failing test fails.
NO_HANG = km.hooks.StopAtStepHook(last_step=40)


@pytest.fixture
def previous_handler():
    """A Python SIGTERM handler installed before the session: it must be
    back after close, and is called only for signals km passes on."""
    calls = []

    def handler(number, frame):
        del frame
        calls.append(number)

    before = signal.signal(signal.SIGTERM, handler)
    handler.calls = calls
    try:
        yield handler
    finally:
        signal.signal(signal.SIGTERM, before)


def make_training():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.1)
    x = tf.constant([[1.0, 2.0], [3.0, -1.0]])

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    return model, optimizer, step


def trained_session(directory, **kwargs):
    """An MTS over a fresh model, and its step function."""
    model, optimizer, step = make_training()
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    return (
        km.MonitoredTrainingSession(
            checkpoint_dir=str(directory), scaffold=scaffold, **kwargs
        ),
        step,
    )


class SignalAfterStep(km.SessionRunHook):
    """Raises a real signal in this process once the global step reaches
    `at` (from after_run: the signal arrives between two runs)."""

    def __init__(self, at, signals=(signal.SIGTERM,)):
        self._at = at
        self._signals = signals

    def before_run(self, run_context):
        return km.SessionRunArgs("global_step")

    def after_run(self, run_context, run_values):
        if run_values.results == self._at:
            for number in self._signals:
                signal.raise_signal(number)


class RecordEnd(km.SessionRunHook):
    def __init__(self):
        self.end_steps = []

    def end(self, session):
        self.end_steps.append(int(session.run("global_step")))


def latest_step(directory):
    path = tf.train.latest_checkpoint(str(directory))
    return int(path.rsplit("-", 1)[1]) if path else None


def test_sigterm_finishes_the_step_saves_it_and_stops(
    tmp_path, previous_handler
):
    model, optimizer, step = make_training()
    recorder = RecordEnd()
    runs = 0
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=1000,
        hooks=[SignalAfterStep(at=3), recorder, NO_HANG],
    ) as sess:
        assert signal.getsignal(signal.SIGTERM) is not previous_handler
        assert not sess.preempted
        while not sess.should_stop():
            sess.run(step)
            runs += 1
        assert sess.preempted
        weights = [w.copy() for w in model.get_weights()]
    assert runs == 3
    assert recorder.end_steps == [3]  # hooks' end ran, as for any stop
    assert latest_step(tmp_path) == 3  # saved at the step reached
    restored, _, _ = make_training()
    tf.train.Checkpoint(model=restored).restore(
        tf.train.latest_checkpoint(str(tmp_path))
    ).expect_partial()
    for got, want in zip(restored.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    # The previous handler is back, and km did not pass the signal on.
    assert signal.getsignal(signal.SIGTERM) is previous_handler
    assert previous_handler.calls == []


def test_a_signal_during_a_loop_finishes_the_loop(tmp_path, previous_handler):
    """The signal arrives while a 4-step compiled loop runs (from inside
    its second step); the loop completes and its last step is saved."""
    model, optimizer, train = make_training()
    pid = os.getpid()

    def send_sigterm(global_step):
        if int(global_step) == 1:  # the second step of the first loop
            os.kill(pid, signal.SIGTERM)
        return global_step

    def step():
        tf.py_function(
            send_sigterm, [km.get_global_step().read_value()], tf.int64
        )
        return train()

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=1000,
        steps_per_loop=4,
        hooks=[NO_HANG],
    ) as sess:
        boundaries = []  # the global step after each run call
        while not sess.should_stop():
            sess.run(step)
            boundaries.append(int(km.get_global_step().numpy()))
        assert sess.preempted
    # The signal came during the step from global step 1; the loop it was
    # in ran all its 4 steps, and no further run started.
    assert boundaries[-2] <= 1 < boundaries[-1]
    assert boundaries[-1] - boundaries[-2] == 4
    assert latest_step(tmp_path) == boundaries[-1]


def test_a_second_signal_is_passed_on(tmp_path, previous_handler):
    """A process stuck in a step can still be stopped: while a preemption
    is pending, the next signal goes to the handler that was there before."""
    session, step = trained_session(
        tmp_path,
        hooks=[
            SignalAfterStep(at=2, signals=(signal.SIGTERM, signal.SIGTERM)),
            NO_HANG,
        ],
    )
    with session as sess:
        while not sess.should_stop():
            sess.run(step)
        assert sess.preempted
    assert previous_handler.calls == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_preemption_signals_can_be_chosen_or_turned_off(
    tmp_path, previous_handler
):
    session, step = trained_session(tmp_path / "off", preemption_signals=())
    with session as sess:
        assert signal.getsignal(signal.SIGTERM) is previous_handler
        sess.run(step)
    before_usr1 = signal.getsignal(signal.SIGUSR1)
    session, step = trained_session(
        tmp_path / "usr1",
        preemption_signals=(signal.SIGUSR1,),
        hooks=[SignalAfterStep(at=2, signals=(signal.SIGUSR1,)), NO_HANG],
    )
    with session as sess:
        assert signal.getsignal(signal.SIGTERM) is previous_handler
        while not sess.should_stop():
            sess.run(step)
        assert sess.preempted
    assert signal.getsignal(signal.SIGUSR1) is before_usr1
    assert latest_step(tmp_path / "usr1") == 2


def test_a_session_off_the_main_thread_says_it_cannot_handle_signals(
    tmp_path, previous_handler, caplog
):
    seen = {}

    def train():
        session, step = trained_session(
            tmp_path, hooks=[km.hooks.StopAtStepHook(last_step=2)]
        )
        with session as sess:
            seen["handler"] = signal.getsignal(signal.SIGTERM)
            while not sess.should_stop():
                sess.run(step)
            seen["preempted"] = sess.preempted

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert seen == {"handler": previous_handler, "preempted": False}
    assert "runs outside the main thread" in caplog.text
    assert "SIGTERM" in caplog.text


class SignalAtBatch(keras.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self._batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self._batch:
            signal.raise_signal(signal.SIGTERM)


def test_hook_callback_stops_fit_and_saves_at_the_batch(
    tmp_path, previous_handler
):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((64, 2), np.float32)
    y = np.ones((64, 1), np.float32)
    recorder = RecordEnd()
    callback = km.HookCallback(
        [km.hooks.CheckpointSaverHook(str(tmp_path), save_steps=1000), recorder]
    )
    assert callback.preempted is False
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        verbose=0,
        callbacks=[SignalAtBatch(2), callback],
    )
    assert callback.preempted
    assert int(model.optimizer.iterations.numpy()) == 3
    assert recorder.end_steps == [3]
    assert latest_step(tmp_path) == 3
    assert signal.getsignal(signal.SIGTERM) is previous_handler
    assert previous_handler.calls == []
