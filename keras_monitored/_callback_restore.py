"""Where a resumed CallbackHook run starts: km's checkpoint or BackupAndRestore.

Two things can put a run back where it stopped: km's checkpoint (model,
optimizer, global step and the callbacks' state, restored when the session
is created) and Keras's `BackupAndRestore` (weights and optimizer at an epoch
boundary, loaded in `on_train_begin`; fit then starts at that epoch,
`model._initial_epoch`). One of them decides, never both: km's checkpoint
when the session restored one (it holds the callbacks' and hooks' state and
the input position; a newer backup is then not used, and the log says so),
else the backup, and the session then resumes at the first step of the
restored epoch, as fit resumes at that epoch.

Files callbacks append to (CSVLogger) are cut back to what they held when
the checkpoint was written, so the steps run again do not log twice.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Mapping

import keras
from absl import logging

from keras_monitored import _compat
from keras_monitored.global_step import get_global_step


def backups(callbacks: list[Any]) -> list[keras.callbacks.BackupAndRestore]:
    return [
        c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)
    ]


def check_backups_restore_everything(backups: list[Any], model: Any) -> None:
    """Refuses BackupAndRestore where its backup would restore only part of
    the training state.

    Raises:
      ValueError: BackupAndRestore with a model that is not compiled: its
        backup (`model.save_weights`) would hold the weights without the
        optimizer's state, a silently partial restore.
    """
    if not backups or model is None:
        return
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"BackupAndRestore(backup_dir={backups[0].backup_dir!r}) cannot "
            "restore this run: the model is not compiled, so its backup "
            "(model.save_weights) would hold the weights but not your "
            "optimizer's state (iterations, slots). Compile the model with "
            "your optimizer (model.compile(optimizer=...)), or drop "
            "BackupAndRestore and let km's checkpoints resume the run "
            "(MonitoredTrainingSession(checkpoint_dir=...) with "
            "km.Scaffold(checkpoint=tf.train.Checkpoint(model=..., "
            "optimizer=...)))."
        )


def initial_epoch(model: Any) -> int | None:
    """The epoch a `BackupAndRestore` told fit to start at, if any."""
    return _compat.private_attr(model, "_initial_epoch")


def forget_initial_epoch(model: Any) -> None:
    _compat.set_private_attr(model, "_initial_epoch", None)


@contextlib.contextmanager
def leaving_out(
    callback_list: keras.callbacks.CallbackList, left_out: list[Any]
) -> Iterator[None]:
    """While open, `callback_list` calls every callback but `left_out`."""
    every = list(callback_list.callbacks)
    callback_list.callbacks = [
        c for c in every if not any(c is o for o in left_out)
    ]
    try:
        yield
    finally:
        callback_list.callbacks = every


def say_km_checkpoint_decides(
    left_out: list[Any], checkpoint: str, step: int | None
) -> None:
    logging.info(
        "CallbackHook: the session restored %s (global step %s), which holds "
        "the model, the optimizer and the callbacks' state; "
        "BackupAndRestore(%s) does not load its backup over it.",
        checkpoint,
        step,
        ", ".join(repr(c.backup_dir) for c in left_out),
    )


def resume_at_epoch(
    epoch: int, steps_per_epoch: int | None, session: Any
) -> int:
    """Moves the global step to the first step of `epoch` (what a
    BackupAndRestore restored), as fit starts at that epoch.

    Returns:
      The global step now.

    Raises:
      ValueError: the run has no epochs (`steps_per_epoch=None`).
    """
    if not steps_per_epoch:
        if epoch == 0:
            return int(session.run("global_step"))
        raise ValueError(
            f"BackupAndRestore restored epoch {epoch}, but "
            "CallbackHook(steps_per_epoch=None) makes the whole run one "
            "epoch, so there is no step to resume at. Pass steps_per_epoch, "
            "or leave resuming to km's checkpoints "
            "(MonitoredTrainingSession(checkpoint_dir=...)) and drop "
            "BackupAndRestore."
        )
    step = epoch * steps_per_epoch
    variable = get_global_step()
    if int(variable.numpy()) != step:
        variable.assign(step)
        # The session caches the global step it last read.
        session.resync_global_step()
    logging.info(
        "CallbackHook: BackupAndRestore restored the model and optimizer at "
        "the end of epoch %d; training resumes at global step %d.",
        epoch - 1,
        step,
    )
    return step


def _csv_loggers(callbacks: list[Any]) -> dict[int, Any]:
    return {
        index: c
        for index, c in enumerate(callbacks)
        if isinstance(c, keras.callbacks.CSVLogger)
    }


def file_sizes(callbacks: list[Any]) -> dict[str, int]:
    """The sizes of the files callbacks append to (by callback position)."""
    sizes = {}
    for index, logger in _csv_loggers(callbacks).items():
        path = logger.filename
        sizes[str(index)] = os.path.getsize(path) if os.path.exists(path) else 0
    return sizes


def cut_files_back(callbacks: list[Any], sizes: Mapping[str, int]) -> None:
    """Cuts appended files back to `sizes` (what they held at the
    checkpoint): rows written after it come again as the steps rerun."""
    for index, logger in _csv_loggers(callbacks).items():
        size = sizes.get(str(index))
        path = logger.filename
        if size is None or not os.path.exists(path):
            continue
        if os.path.getsize(path) > size:
            with open(path, "r+b") as handle:
                handle.truncate(size)
