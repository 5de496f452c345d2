"""HookCallback: SessionRunHooks (km or TF1) inside Keras 3 `model.fit`."""

from __future__ import annotations

import signal
from typing import Any, Iterable

import keras
import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored import _fetches as fetches_lib
from keras_monitored import _roles as roles
from keras_monitored._checkpoint_directory import restorable_checkpoint
from keras_monitored._checkpointing import SessionCheckpoints
from keras_monitored._eager_guard import check_eager
from keras_monitored._preemption import PreemptionWatcher
from keras_monitored._restore import RestoreOptions
from keras_monitored._session_options import check_signals
from keras_monitored._worker_agreement import agreed_checkpoint
from keras_monitored.hook_driver import (
    HookDriver,
    global_step_registered,
    hook_group,
)
from keras_monitored.hook_list import HookList
from keras_monitored.hooks.checkpoint_saver import CheckpointSaverHook
from keras_monitored.session_handle import SessionHandle
from keras_monitored.session_run_hook import (
    SessionRunArgs,
    SessionRunContext,
)

# What a fit batch's "caller" asked for: nothing (fit runs its own step).
_NO_CALLER_ARGS = SessionRunArgs(None)

# What restore errors inside fit suggest (fit restores the model and the
# optimizer from the CheckpointSaverHook's directory; there is no scaffold).
_FIT_RESTORE = RestoreOptions(
    partial_fix=(
        "That checkpoint was not written for this model and optimizer: "
        "give the CheckpointSaverHook another directory, or pass "
        "km.HookCallback(..., restore=False) to start from fresh values."
    ),
    allow_partial_hint="",
    use_converted=(
        "then give the CheckpointSaverHook that directory "
        "(km.hooks.CheckpointSaverHook({out!r}, ...)): HookCallback restores "
        "the model and optimizer from it"
    ),
)


class FitSession(SessionHandle):
    """The session handle hooks see inside `model.fit`.

    Fetches resolve against the batch logs Keras reports; `"global_step"` is
    `model.optimizer.iterations`, read after each batch (exact also with
    `steps_per_execution`). Checkpoint writers save the model and optimizer.

    Args:
      model: the compiled Keras model being fit.
      is_chief: whether this process writes checkpoints and summaries.
    """

    def __init__(self, model: keras.Model, is_chief: bool):
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "HookCallback needs a compiled model: model.optimizer is None. "
                "Call model.compile(optimizer=...) before model.fit."
            )
        global_step = optimizer.iterations
        checkpoints = SessionCheckpoints(
            {"model": model, "optimizer": optimizer}, global_step
        )
        super().__init__(
            strategy=getattr(model, "distribute_strategy", None)
            or tf.distribute.get_strategy(),
            global_step=global_step,
            checkpoints=checkpoints,
            is_chief=is_chief,
        )

    def set_logs(self, logs: dict | None, steps: int | None = None) -> None:
        """Records a finished batch: its logs become the step's outputs.

        Args:
          logs: the batch logs.
          steps: the optimizer steps the batch ran, when known exactly (then
            the global step is counted here, not read from the device);
            None: read `optimizer.iterations` when next asked.
        """
        self._last_outputs = fetches_lib.StepOutputs(dict(logs or {}))
        if steps is not None and self._host_step is not None:
            self._host_step += steps
        else:
            self.resync_global_step()


class HookCallback(keras.callbacks.Callback):
    """Runs SessionRunHooks inside `model.fit`.

    Mapping: `on_train_begin` → `begin`, the restore and
    `after_create_session`; every train batch (every execution with `steps_per_execution`) → `before_run`
    / `after_run`; `on_train_end` → `end`. Fetches resolve from the batch
    logs (`"loss"`, metric names), `"global_step"` is
    `model.optimizer.iterations`, variables and callables as usual.
    `run_context.request_stop()` sets `model.stop_training`, so fit stops
    after the current batch. A hook that feeds (`feed_dict`) is refused: fit
    owns its step's inputs. While a hook runs, `tf.compat.v1.train.
    get_global_step()` returns the optimizer's iteration counter, so TF1 hooks
    that look the global step up find it.

    Args:
      hooks: hooks for every task (km hooks, TF1 standard hooks — translated
        — or any subclass of `tf.compat.v1.train.SessionRunHook`).
      chief_only_hooks: hooks that run only on the chief, before `hooks`.
      is_chief: this process's role; None derives it from the model's
        strategy / TF_CONFIG (no cluster: chief).
      restore: at the start of fit, restore the latest checkpoint of the
        hooks' `CheckpointSaverHook` directory (model, optimizer, iteration
        counter, hooks' state), as TF1's chief restored its checkpoint_dir.
        The restore is strict: a checkpoint that leaves a variable of the
        model or optimizer without a value (checked after the first batch,
        once the optimizer's slots exist) raises `ValueError` naming them; a
        TF1 name-based checkpoint is restored only if every variable matches
        a TF1 name, otherwise the error gives the `km-migrate checkpoint`
        command that converts it. Next to `keras.callbacks.BackupAndRestore`
        one restore decides: list BackupAndRestore first; when it loaded its
        backup (fit then resumes at its epoch), the checkpoint is not
        restored. Listed after, a backup it loads over the restored
        checkpoint is refused (`ValueError` at the first batch).
      preemption_signals: signals that preempt training (`()`: none). On
        one, the batch in progress finishes, `model.stop_training` is set,
        hooks' `end` run (a `CheckpointSaverHook` saves that step) and
        `preempted` becomes True; under MultiWorkerMirrored every worker
        stops after the same batch. The handlers are installed at
        `on_train_begin` (from the main thread only) and the previous ones
        put back at `on_train_end`.

    Raises:
      TypeError: a hook is not a hook.
      ValueError: a preemption signal Python cannot handle (SIGKILL).

    Example:

    ```python
    model.fit(dataset, epochs=5, callbacks=[km.HookCallback([
        tf.compat.v1.train.StopAtStepHook(last_step=1000),
        km.hooks.LoggingTensorHook({"loss": "loss"}, every_n_iter=100),
    ])])
    ```
    """

    def __init__(
        self,
        hooks: Iterable[Any] | None = None,
        chief_only_hooks: Iterable[Any] | None = None,
        *,
        is_chief: bool | None = None,
        restore: bool = True,
        preemption_signals: Iterable[signal.Signals] = (signal.SIGTERM,),
    ):
        super().__init__()
        self._hooks = hook_group(hooks, name="hooks")
        self._chief_only_hooks = hook_group(
            chief_only_hooks, name="chief_only_hooks"
        )
        if is_chief is not None and not isinstance(is_chief, bool):
            raise TypeError(
                _validation.invalid("is_chief", is_chief, "True, False or None")
            )
        self._is_chief = is_chief
        self._restore = _validation.check_bool("restore", restore)
        self._preemption_signals = check_signals(
            "preemption_signals", preemption_signals
        )
        self._preemption: PreemptionWatcher | None = None
        self._preempted = False
        self._driver: HookDriver | None = None
        self._session: FitSession | None = None
        self._coord: tf.train.Coordinator | None = None
        self._run_context: SessionRunContext | None = None
        self._request: SessionRunArgs | None = None
        self._variables_before: dict[int, Any] = {}
        self._run_metadata: Any = None
        self._steps_per_execution = 1
        self._restore_checked = False
        self._registration: global_step_registered | None = None

    @property
    def session(self) -> FitSession | None:
        """The handle hooks receive (None outside fit)."""
        return self._session

    @property
    def preempted(self) -> bool:
        """True once a preemption signal stopped the last `fit` (exit with
        `km.PREEMPTED_EXIT_CODE`: a CheckpointSaverHook saved that step)."""
        return self._preempted

    def on_train_begin(self, logs: dict | None = None) -> None:
        check_eager("km.HookCallback")
        strategy = getattr(self.model, "distribute_strategy", None)
        is_chief = roles.resolve_is_chief(self._is_chief, strategy)
        groups = [self._chief_only_hooks] if is_chief else []
        self._driver = HookDriver(HookList(groups + [self._hooks]))
        self._session = FitSession(self.model, is_chief)
        self._registration = None
        self._coord = tf.train.Coordinator(clean_stop_exception_types=[])
        # TF2 fills no RunMetadata; one object serves every batch.
        self._run_metadata = _compat.run_metadata()
        self._steps_per_execution = int(
            getattr(self.model, "steps_per_execution", 1) or 1
        )
        with self._global_step_registered():
            self._driver.begin()
        self._restore_checked = False
        self._restored_here = False
        # A fit that raised never reached on_train_end: its handlers go now.
        self._close_preemption()
        self._preempted = False
        self._preemption = PreemptionWatcher(
            self._preemption_signals, "model.fit (km.HookCallback)"
        ).open()
        # Restored now, before the callbacks after this one start (a
        # LearningRateScheduler sets its rate in on_epoch_begin).
        self._open_session()

    def _open_session(self) -> None:
        """Restores the latest checkpoint (unless a BackupAndRestore did),
        then `after_create_session`."""
        with self._global_step_registered():
            if self._restore and not self._backup_restored():
                self._restored_here = self._restore_latest()
            self._driver.after_create_session(self._session, self._coord)

    def _check_one_restore(self) -> None:
        """Refuses a second restore: a BackupAndRestore listed after this
        callback loaded its backup over the checkpoint restored here.

        Raises:
          ValueError: naming both and the fix.
        """
        if self._restored_here and (
            _compat.private_attr(self.model, "_initial_epoch") is not None
        ):
            raise ValueError(
                "keras.callbacks.BackupAndRestore, listed after "
                "km.HookCallback, loaded its backup over the checkpoint "
                f"HookCallback restored ({self._session.restored_checkpoint}): "
                "the model, the optimizer and the hooks' state now come from "
                "different steps. List BackupAndRestore before HookCallback "
                "in callbacks=[...] (its backup then decides, and HookCallback "
                "does not restore), or pass HookCallback(restore=False)."
            )

    def _backup_restored(self) -> bool:
        """True when a `keras.callbacks.BackupAndRestore` of this fit loaded
        its backup (it tells fit the epoch to start at): that restore
        decides, as fit's own, and km's checkpoint is not restored over it."""
        epoch = _compat.private_attr(self.model, "_initial_epoch")
        if epoch is None:
            return False
        logging.info(
            "km.HookCallback: BackupAndRestore restored the model and "
            "optimizer for epoch %s; the hooks' checkpoint is not restored "
            "over it (one restore decides where fit resumes).",
            epoch,
        )
        return True

    def _restore_latest(self) -> bool:
        """Restores what a CheckpointSaverHook of these hooks saved last;
        True if there was a checkpoint."""
        directories = [
            h.checkpoint_dir
            for h in self._driver.hooks
            if isinstance(h, CheckpointSaverHook)
        ]
        if not directories:
            return False
        directory = directories[0]
        path = agreed_checkpoint(
            self._session.agreement, restorable_checkpoint(directory), directory
        )
        if path:
            self._session.restore(path, _FIT_RESTORE)
        return bool(path)

    def _global_step_registered(self) -> Any:
        """While hooks run, TF1's global-step lookup finds the optimizer's
        iteration counter; the registration before is put back after every
        call, even when fit fails (Keras then skips on_train_end)."""
        if self._registration is None:
            self._registration = global_step_registered(
                self._session.global_step
            )
        return self._registration

    def on_train_batch_begin(
        self, batch: int, logs: dict | None = None
    ) -> None:
        if not self._restore_checked:
            self._restore_checked = True
            self._check_one_restore()
        self._run_context = SessionRunContext(
            _NO_CALLER_ARGS, self._session, num_steps=self._steps_per_execution
        )
        with self._global_step_registered():
            self._request, self._variables_before = self._driver.before_run(
                self._run_context, self._session
            )
        if self._request.feed_dict:
            feeders = ", ".join(
                type(h).__name__ for h in self._driver.feeding_hooks
            )
            raise ValueError(
                f"{feeders} returned a feed_dict ({sorted(map(str, self._request.feed_dict))}), but "
                "model.fit owns the inputs of its train step and cannot feed it. Put the "
                "value in the dataset, or run the hook in km.MonitoredSession."
            )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # One step per batch without steps_per_execution: counted, not read
        # (Keras's batch index overshoots a short last execution, so longer
        # executions read optimizer.iterations).
        self._session.set_logs(
            logs, steps=1 if self._steps_per_execution == 1 else None
        )
        # The first batch built the optimizer's slots (restored on creation):
        # verify the restore before any hook sees or saves this step.
        self._session.verify_restore()
        with self._global_step_registered():
            self._driver.after_run(
                self._run_context,
                self._request,
                self._variables_before,
                self._session,
                self._request.options,
                self._run_metadata,
            )
        # A stop or a signal on one worker stops every worker after this
        # batch (their collectives must stay in step).
        stop, preempt = self._session.agreement.any_worker_of(
            self._run_context.stop_requested, self._preemption.requested
        )
        if preempt and not self._preempted:
            self._preempted = True
            logging.warning(
                "Preempted: model.fit stops after global step %d.",
                int(self._session.global_step_value()),
            )
        if stop or preempt:
            self.model.stop_training = True
        self._coord.raise_requested_exception()

    def _close_preemption(self) -> None:
        if self._preemption is not None:
            self._preemption.close()
            self._preemption = None

    def on_train_end(self, logs: dict | None = None) -> None:
        try:
            with self._global_step_registered():
                self._driver.end(self._session)
        finally:
            self._coord.request_stop()
            self._coord.join(ignore_live_threads=True)
            self._session.close()
            self._close_preemption()
