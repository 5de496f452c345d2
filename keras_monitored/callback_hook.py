"""CallbackHook: Keras callbacks inside a monitored session, called as fit calls them."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import keras

from keras_monitored import (
    _callback_logs,
    _callback_restore,
    _callback_state,
    _validation,
)
from keras_monitored.session_run_hook import SessionRunHook

_VERBOSITIES = ("auto", 0, 1, 2)


class _NoModel:
    """Stands in for `model` when none was given: callbacks can still stop
    training (`stop_training`) and fill `history`; anything else says what
    is missing."""

    def __init__(self):
        self.stop_training = False
        self.history = None

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"A callback used `model.{name}`, but CallbackHook was created without a "
            "model. Pass `model=` (compiled, or with `model.optimizer` set, for "
            "callbacks that change the learning rate)."
        )


class CallbackHook(SessionRunHook):
    """Runs Keras callbacks in a monitored session, as `model.fit` calls them.

    Each run is a train batch: `on_train_batch_begin` / `_end`, the batch
    index counted within the epoch. The batch logs are fit's: the running
    means over the epoch so far of the step's scalar outputs (as Python
    floats; outputs that are not scalars are left out, said once). Every
    `steps_per_epoch` global steps make an epoch, opened at its first batch
    (never an empty one) and closed with those means, plus
    `val_<name>` for every result of `validation_fn`, so EarlyStopping,
    ModelCheckpoint, CSVLogger, ReduceLROnPlateau and TensorBoard work;
    without `steps_per_epoch` the whole run is one epoch. Epochs are counted
    from the global step, so they continue across restarts.

    As in fit: `model.stop_training` is reset when training starts and
    requests a stop when a callback sets it; `model.history` is the run's
    `keras.callbacks.History`; at the end the optimizer's
    `finalize_variable_values` puts EMA weights in the model
    (`use_ema=True`), then `on_train_end`. The model may be compiled or not
    (a step function with an optimizer of its own).

    The callbacks' state that matters for resuming (EarlyStopping's
    wait/best, ModelCheckpoint's and ReduceLROnPlateau's best and counters,
    TensorBoard's batch counter, CSVLogger's rows, the open epoch's running
    means; plus `get_state`/`set_state` of your own callbacks) is saved with
    every checkpoint, so a resumed run logs exactly what an uninterrupted one
    does (Keras itself loses it: keras-team/keras#17012). With
    `BackupAndRestore`, one of the two decides where a resumed run starts:
    km's checkpoint when the session restored one, else the backup (the
    session then resumes at the first step of the backup's epoch, as fit
    does).

    Args:
      callbacks: `keras.callbacks.Callback`s (or a `CallbackList`).
      model: the Keras model callbacks see as `self.model`.
      steps_per_epoch: global steps per epoch; None: one epoch.
      validation_fn: a zero-argument callable returning a dict of scalars,
        compiled once with `tf.function` and run at every epoch end; its
        results join the epoch logs as `val_<name>` (EarlyStopping on
        `val_loss`, as fit's `validation_data` gives it).
      verbose: fit's `verbose` ('auto', 0, 1 or 2), what a `ProgbarLogger`
        among the callbacks prints.

    Raises:
      TypeError, ValueError: an argument of the wrong type or value.

    Example:

    ```python
    hook = km.CallbackHook(
        [keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
         keras.callbacks.CSVLogger("/tmp/run/log.csv")],
        model=model, steps_per_epoch=100,
        validation_fn=lambda: {"loss": evaluate(validation_batches)})
    ```
    """

    def __init__(
        self,
        callbacks: Iterable[keras.callbacks.Callback],
        model: keras.Model | None = None,
        steps_per_epoch: int | None = None,
        *,
        validation_fn: Callable[[], Any] | None = None,
        verbose: int | str = "auto",
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
        validation_fn = _validation.check_callable(
            "validation_fn", validation_fn
        )
        self._validation = (
            None
            if validation_fn is None
            else _callback_logs.Validation(validation_fn)
        )
        if isinstance(verbose, bool) or verbose not in _VERBOSITIES:
            raise ValueError(
                _validation.invalid("verbose", verbose, "'auto', 0, 1 or 2")
            )
        self._verbose = verbose
        # The History goes last, as in fit, so it sees the final epoch logs.
        self._callback_list = keras.callbacks.CallbackList(
            self._callbacks, add_history=True, model=self._model
        )
        self._backups = _callback_restore.backups(self._callbacks)
        _callback_restore.check_backups_restore_everything(self._backups, model)
        self._started = False
        self._pending_state: dict[str, Any] | None = None
        self._last_global_step = 0
        self._epoch: int | None = None
        self._running = _callback_logs.RunningLogs()
        self._epoch_logs: dict[str, float] = {}
        self._warned_monitors: set[int] = set()
        self._skip_run = False
        self._run_start = 0
        # The state before `end` closed a partial epoch: what a resumed run
        # continues from (the epoch goes on; its early close is undone).
        self._end_state: dict[str, Any] | None = None

    @property
    def callbacks(self) -> list[keras.callbacks.Callback]:
        return list(self._callbacks)

    # -- hook protocol -------------------------------------------------------

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._last_global_step = int(session.run("global_step"))
        if self._started:
            # Recreated after a failure: the variables went back to the
            # restored checkpoint, so do the callbacks, their files and the
            # epoch.
            state = self._pending_state or {}
            _callback_restore.cut_files_back(
                self._callbacks, state.get("files") or {}
            )
            for callback in self._callbacks:
                _callback_state.start_keras_callback_at_step(
                    callback, self._last_global_step
                )
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
        self._callback_list.on_train_batch_begin(
            self._last_global_step - self._epoch_start()
        )
        return None

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_values
        if self._skip_run:
            return
        session = run_context.session
        global_step = int(session.run("global_step"))
        logs = self._running.add(
            session.last_outputs, global_step - self._last_global_step
        )
        self._callback_list.on_train_batch_end(
            global_step - 1 - self._epoch_start(), dict(logs)
        )
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
        last_step = session.last_step_hint()
        finished = self._model.stop_training or (
            last_step is not None and self._last_global_step >= last_step
        )
        if self._epoch is not None:
            self._end_state = self.get_state()
            # A partial epoch: BackupAndRestore must not back it up as done.
            with _callback_restore.leaving_out(
                self._callback_list, self._backups
            ):
                self._close_epoch()
        self._finalize_variables()
        if self._backups and not finished:
            # Stopped early (preempted): a restart resumes from the backup,
            # which BackupAndRestore's on_train_end would delete.
            with _callback_restore.leaving_out(
                self._callback_list, self._backups
            ):
                self._callback_list.on_train_end(dict(self._epoch_logs))
        else:
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
        if self._end_state is not None:
            return self._end_state
        return {
            "epoch": self._epoch,
            **self._running.get_state(),
            "epoch_logs": dict(self._epoch_logs),
            "callbacks": [
                _callback_state.keras_callback_state(c) for c in self._callbacks
            ],
            "files": _callback_restore.file_sizes(self._callbacks),
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
        logs = self._running.means()
        if self._validation is not None:
            logs.update({f"val_{k}": v for k, v in self._validation().items()})
        _callback_logs.warn_unprovided_monitors(
            self._callbacks, logs, self._warned_monitors
        )
        self._epoch_logs = logs
        epoch, self._epoch = self._epoch, None
        self._running.reset()
        self._callback_list.on_epoch_end(epoch, dict(logs))

    def _finalize_variables(self) -> None:
        """fit's end of training: EMA weights into the model."""
        optimizer = getattr(self._model, "optimizer", None)
        if isinstance(self._model, keras.Model) and isinstance(
            optimizer, keras.optimizers.Optimizer
        ):
            optimizer.finalize_variable_values(self._model.trainable_weights)

    # -- starting and resuming -----------------------------------------------

    def _resume(self, state: dict[str, Any] | None) -> None:
        """Applies restored state (after on_train_begin, which resets much of
        the callbacks' own)."""
        self._pending_state = None
        if not state:
            return
        for callback, saved in zip(
            self._callbacks, _saved_callbacks(state, len(self._callbacks))
        ):
            _callback_state.restore_keras_callback_state(
                callback, saved, before_train_begin=False
            )
        self._epoch = None
        self._running.reset()
        if state.get("epoch") is not None:
            # Resumed mid-epoch: reopen it with its running means.
            self._open_epoch(int(state["epoch"]))
            self._running.set_state(state)
        self._epoch_logs = dict(state.get("epoch_logs") or {})

    def _start(self, session: Any) -> None:
        """on_train_begin, once every hook is set up; then resumed state."""
        self._end_state = None
        self._model.stop_training = False
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
            {
                "verbose": self._verbose,
                "epochs": epochs,
                "steps": self._steps_per_epoch,
            }
        )
        state = self._pending_state or {}
        # Rows appended after the checkpoint come again as its steps rerun.
        _callback_restore.cut_files_back(
            self._callbacks, state.get("files") or {}
        )
        for callback, saved in zip(
            self._callbacks, _saved_callbacks(state, len(self._callbacks))
        ):
            _callback_state.restore_keras_callback_state(
                callback, saved, before_train_begin=True
            )
        self._begin_training(session)
        for callback in self._callbacks:
            _callback_state.start_keras_callback_at_step(
                callback, self._last_global_step
            )
        self._resume(state)
        self._started = True

    def _begin_training(self, session: Any) -> None:
        """on_train_begin, with one of km's checkpoint and BackupAndRestore
        deciding where the run starts."""
        restored = session.restored_checkpoint
        if not self._backups:
            self._callback_list.on_train_begin()
            return
        if restored:
            _callback_restore.say_km_checkpoint_decides(
                self._backups, restored, session.restored_step
            )
            with _callback_restore.leaving_out(
                self._callback_list, self._backups
            ):
                self._callback_list.on_train_begin()
            return
        _callback_restore.forget_initial_epoch(self._model)
        self._callback_list.on_train_begin()
        epoch = _callback_restore.initial_epoch(self._model)
        if epoch is None:
            return
        _callback_restore.forget_initial_epoch(self._model)
        self._last_global_step = _callback_restore.resume_at_epoch(
            int(epoch), self._steps_per_epoch, session
        )
        self._run_start = self._last_global_step


def _saved_callbacks(state: dict[str, Any], count: int) -> list[Any]:
    return state.get("callbacks") or [None] * count
