"""CallbackHook: Keras callbacks inside a monitored session."""

from __future__ import annotations

from typing import Any, Iterable

import keras
import numpy as np

from keras_monitored import _compat, _validation
from keras_monitored.session_run_hook import SessionRunHook


class _NoModel:
    """Stands in for `model` when none was given: callbacks can still stop
    training (`stop_training`), anything else says what is missing."""

    def __init__(self):
        self.stop_training = False

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"A callback used `model.{name}`, but CallbackHook was created without a "
            "model. Pass `model=` (compiled, or with `model.optimizer` set, for "
            "callbacks that change the learning rate)."
        )


class CallbackHook(SessionRunHook):
    """Runs Keras callbacks in a monitored session, as `model.fit` would.

    Each run is a train batch: `on_train_batch_begin` / `_end` with the
    step's outputs as the batch logs (floats). Every `steps_per_epoch` global
    steps make an epoch, opened at its first batch (never an empty one) and
    closed with the mean of its batch logs, so EarlyStopping, ModelCheckpoint,
    CSVLogger, ReduceLROnPlateau and TensorBoard work; without
    `steps_per_epoch` the whole run is one epoch. Epochs are counted from the
    global step, so they continue across restarts. `model.stop_training`
    requests a stop. `end` closes an open (partial) epoch and calls
    `on_train_end`. Inside multi-step loops each epoch ends exactly on its
    last step.

    The callbacks' state that matters for resuming (EarlyStopping's
    wait/best, ModelCheckpoint's and ReduceLROnPlateau's best and counters,
    TensorBoard's batch counter, CSVLogger appending, the open epoch's
    running means; plus `get_state`/`set_state` of your own callbacks) is
    saved with every checkpoint, so a resumed run behaves as if it had never
    stopped (Keras itself loses it: keras-team/keras#17012).

    Args:
      callbacks: `keras.callbacks.Callback`s (or a `CallbackList`).
      model: the Keras model callbacks see as `self.model`.
      steps_per_epoch: global steps per epoch; None: one epoch.

    Raises:
      TypeError, ValueError: an argument of the wrong type or value.

    Example:

    ```python
    hook = km.CallbackHook(
        [keras.callbacks.EarlyStopping(monitor="loss", patience=2),
         keras.callbacks.CSVLogger("/tmp/run/log.csv")],
        model=model, steps_per_epoch=100)
    ```
    """

    def __init__(
        self,
        callbacks: Iterable[keras.callbacks.Callback],
        model: keras.Model | None = None,
        steps_per_epoch: int | None = None,
    ):
        if isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks = callbacks.callbacks
        if isinstance(callbacks, keras.callbacks.Callback):
            callbacks = [callbacks]
        if isinstance(callbacks, (str, bytes)) or not hasattr(
            callbacks, "__iter__"
        ):
            raise TypeError(
                _validation.invalid(
                    "callbacks", callbacks, "a list of keras.callbacks.Callback"
                )
            )
        self._callbacks = list(callbacks)
        for index, callback in enumerate(self._callbacks):
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(
                    _validation.invalid(
                        f"callbacks[{index}]",
                        callback,
                        "a keras.callbacks.Callback",
                    )
                )
        if model is not None and not isinstance(model, keras.Model):
            raise TypeError(
                _validation.invalid("model", model, "a keras.Model or None")
            )
        self._model = model if model is not None else _NoModel()
        self._steps_per_epoch = _validation.check_int(
            "steps_per_epoch", steps_per_epoch, minimum=1, allow_none=True
        )
        self._callback_list = keras.callbacks.CallbackList(
            self._callbacks, model=self._model
        )
        self._started = False
        self._pending_state: dict[str, Any] | None = None
        self._last_global_step = 0
        self._epoch: int | None = None
        self._batch = 0
        self._sums: dict[str, float] = {}
        self._batches = 0
        self._epoch_logs: dict[str, float] = {}
        self._skip_run = False
        self._run_start = 0

    @property
    def callbacks(self) -> list[keras.callbacks.Callback]:
        return list(self._callbacks)

    # -- hook protocol -------------------------------------------------------

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._last_global_step = int(session.run("global_step"))
        if self._started:
            # Recreated after a failure: the variables went back to the
            # restored checkpoint, so do the callbacks and the epoch.
            self._resume(self._pending_state)

    def before_run(self, run_context: Any) -> None:
        if not self._started:
            # Training begins at the first run, once every hook has set up
            # (StopAtStepHook knows its last step: the progress bar's target).
            self._start(run_context.session)
        self._skip_run = run_context.num_steps == 0
        if self._skip_run:
            return None
        if self._epoch is None:
            self._open_epoch(self._epoch_of(self._last_global_step))
        self._batch = self._last_global_step - self._epoch_start()
        self._callback_list.on_train_batch_begin(self._batch)
        return None

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_values
        if self._skip_run:
            return
        session = run_context.session
        global_step = int(session.run("global_step"))
        logs = _batch_logs(session.last_outputs)
        self._callback_list.on_train_batch_end(
            global_step - 1 - self._epoch_start(), logs
        )
        for name, value in logs.items():
            if isinstance(value, float):
                self._sums[name] = self._sums.get(name, 0.0) + value
        self._batches += 1
        self._last_global_step = global_step
        if (
            self._steps_per_epoch
            and global_step >= self._epoch_start() + self._steps_per_epoch
        ):
            self._close_epoch()
        if self._model.stop_training:
            run_context.request_stop()

    def end(self, session: Any) -> None:
        if not self._started:
            self._start(session)  # no run: fit's on_train_begin/_end pair
        if self._epoch is not None:
            self._close_epoch()
        self._callback_list.on_train_end(dict(self._epoch_logs))
        self._started = False

    def next_trigger_step(self, global_step: int) -> int | None:
        """The last step of the current epoch."""
        if not self._steps_per_epoch:
            return None
        return (
            int(global_step) // self._steps_per_epoch + 1
        ) * self._steps_per_epoch

    def get_state(self) -> dict[str, Any]:
        return {
            "epoch": self._epoch,
            "sums": dict(self._sums),
            "batches": self._batches,
            "epoch_logs": dict(self._epoch_logs),
            "callbacks": [
                _compat.keras_callback_state(c) for c in self._callbacks
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._pending_state = state

    # -- epochs --------------------------------------------------------------

    def _epoch_of(self, global_step_before: int) -> int:
        return (
            global_step_before // self._steps_per_epoch
            if self._steps_per_epoch
            else 0
        )

    def _epoch_start(self) -> int:
        return (
            self._epoch * self._steps_per_epoch
            if self._steps_per_epoch
            else self._run_start
        )

    def _open_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        self._callback_list.on_epoch_begin(epoch)

    def _close_epoch(self) -> None:
        self._epoch_logs = (
            {name: total / self._batches for name, total in self._sums.items()}
            if self._batches
            else {}
        )
        epoch, self._epoch = self._epoch, None
        self._sums, self._batches = {}, 0
        self._callback_list.on_epoch_end(epoch, dict(self._epoch_logs))

    def _resume(self, state: dict[str, Any] | None) -> None:
        """Applies restored state (after on_train_begin, which resets much of
        the callbacks' own)."""
        self._pending_state = None
        if not state:
            return
        for callback, saved in zip(
            self._callbacks, _saved_callbacks(state, len(self._callbacks))
        ):
            _compat.restore_keras_callback_state(
                callback, saved, before_train_begin=False
            )
        self._epoch = None
        self._sums, self._batches = {}, 0
        if state.get("epoch") is not None:
            # Resumed mid-epoch: reopen it with its running sums.
            self._open_epoch(int(state["epoch"]))
            self._sums = {k: float(v) for k, v in state.get("sums", {}).items()}
            self._batches = int(state.get("batches", 0))
        self._epoch_logs = dict(state.get("epoch_logs") or {})

    def _start(self, session: Any) -> None:
        """on_train_begin, once every hook is set up; then resumed state."""
        self._run_start = self._last_global_step
        last_step = session.last_step_hint()
        epochs = None
        if last_step is not None:
            epochs = (
                -(-last_step // self._steps_per_epoch)
                if self._steps_per_epoch
                else 1
            )
        self._callback_list.set_params(
            {"verbose": 1, "epochs": epochs, "steps": self._steps_per_epoch}
        )
        state = self._pending_state or {}
        for callback, saved in zip(
            self._callbacks, _saved_callbacks(state, len(self._callbacks))
        ):
            _compat.restore_keras_callback_state(
                callback, saved, before_train_begin=True
            )
        self._callback_list.on_train_begin()
        for callback in self._callbacks:
            _compat.start_keras_callback_at_step(
                callback, self._last_global_step
            )
        self._resume(state)
        self._started = True


def _saved_callbacks(state: dict[str, Any], count: int) -> list[Any]:
    return state.get("callbacks") or [None] * count


def _batch_logs(outputs: Any) -> dict[str, Any]:
    """The step's outputs as Keras batch logs: scalars as floats."""
    if outputs is None or not isinstance(outputs.outputs, dict):
        return {}
    logs = {}
    for name in outputs.outputs:
        value = np.asarray(outputs.value(str(name)))
        logs[str(name)] = (
            float(value)
            if value.ndim == 0 and np.issubdtype(value.dtype, np.number)
            else value
        )
    return logs
