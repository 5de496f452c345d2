"""CheckpointSaverHook and its listeners: periodic TF2 checkpoints, TF1 timing."""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored._checkpointing import DEFAULT_BASENAME
from keras_monitored.hooks.timer import Clock, SecondOrStepTimer
from keras_monitored.scaffold import as_scaffold
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook

_LISTENER_METHODS = ("begin", "before_save", "after_save", "end")


class CheckpointSaverListener:
    """Takes action around the saves of a `CheckpointSaverHook`.

    `after_save` returning True asks the session to stop. Subclasses of
    `tf.compat.v1.train.CheckpointSaverListener` are accepted as they are.

    Example:

    ```python
    class ExportOnSave(km.hooks.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            export(global_step_value)
    ```
    """

    def begin(self) -> None:
        """Called once, in the hook's `begin`."""

    def before_save(self, session: Any, global_step_value: int) -> None:
        """Called before each save."""

    def after_save(self, session: Any, global_step_value: int) -> bool | None:
        """Called after each save; return True to request a stop."""

    def end(self, session: Any, global_step_value: int) -> None:
        """Called once at the end, after the final save."""


class CheckpointSaverHook(SessionRunHook):
    """Saves a checkpoint at session creation, every N steps or seconds, and at
    the end.

    Each save is written in this hook's own turn, as TF1 wrote it: the hooks
    after it (and its listeners) see the new files in the same phase. The
    hooks' resumable state in the checkpoint is completed once every hook
    has finished the phase (see `keras_monitored._hook_state`).

    With `async_checkpoint=True` the session's writer writes the files in
    the background: `before_save` runs before the save as usual, and a
    listener's `after_save` runs in the main thread once that save's files
    are complete -- at this hook's next `after_run` or `end`, or when the
    next save waits for it; `end` waits for every save before the
    listeners' `end`. A stop an `after_save` asks for takes effect then.

    What is saved: the session's checkpoint (its `Scaffold.checkpoint`, the
    global step and the hooks' state), unless the hook is given its own
    `scaffold` or `saver` (a `tf.train.Checkpoint`). Files are
    `<checkpoint_dir>/<checkpoint_basename>-<global step>.{index,data-*}`
    written by `tf.train.CheckpointManager`, so `tf.train.latest_checkpoint`
    finds them; the session's `max_to_keep` applies.

    Args:
      checkpoint_dir: directory for the checkpoint files.
      save_secs: save every N seconds.
      save_steps: save every N global steps.
      saver: a `tf.train.Checkpoint` to save instead of the session's.
      checkpoint_basename: the file prefix.
      scaffold: a `km.Scaffold` whose checkpoint to save instead.
      listeners: `CheckpointSaverListener`s called around each save.
      save_graph_def: accepted for TF1 compatibility; TF2 has no graph to
        write.
      clock: the time source for `save_secs` (tests pass a fake clock).

    Raises:
      ValueError: both `saver` and `scaffold`; neither or both of `save_secs`
        and `save_steps`.
      TypeError: an argument of the wrong type.

    Example:

    ```python
    hook = km.hooks.CheckpointSaverHook("/tmp/run", save_steps=100)
    ```
    """

    def __init__(
        self,
        checkpoint_dir: str,
        save_secs: float | None = None,
        save_steps: int | None = None,
        saver: tf.train.Checkpoint | None = None,
        checkpoint_basename: str = DEFAULT_BASENAME,
        scaffold: Any = None,
        listeners: Sequence[Any] | None = None,
        save_graph_def: bool = True,
        *,
        clock: Clock = time.time,
    ):
        logging.info("Create CheckpointSaverHook.")
        if saver is not None and scaffold is not None:
            raise ValueError(
                _validation.tf1_message(
                    "You cannot provide both saver and scaffold.",
                    saver=saver,
                    scaffold=scaffold,
                )
            )
        checkpoint_dir = _validation.check_optional_str(
            "checkpoint_dir", checkpoint_dir
        )
        if checkpoint_dir is None:
            raise TypeError(
                _validation.invalid(
                    "checkpoint_dir", checkpoint_dir, "a directory path"
                )
            )
        self._checkpoint_dir = checkpoint_dir
        self._basename = _validation.check_optional_str(
            "checkpoint_basename", checkpoint_basename
        )
        if saver is not None and not _compat.is_checkpoint(saver):
            raise TypeError(
                _validation.invalid(
                    "saver",
                    saver,
                    "a tf.train.Checkpoint (a TF1 name-based Saver does not work "
                    "eagerly)",
                )
            )
        self._saver = saver
        self._scaffold = as_scaffold(scaffold) if scaffold is not None else None
        self._timer = SecondOrStepTimer(
            every_secs=save_secs,
            every_steps=save_steps,
            clock=clock,
            arg_names=("save_secs", "save_steps"),
        )
        self._listeners = _check_listeners(listeners)
        self._save_graph_def = _validation.check_bool(
            "save_graph_def", save_graph_def
        )
        self._writer = None
        # The last save whose listeners' after_save has not run yet (its
        # files may still be being written), and whether a stop its
        # listeners ask for counts (not for the creation-time save, as TF1).
        self._unannounced: tuple[int, bool] | None = None

    @property
    def checkpoint_dir(self) -> str:
        return self._checkpoint_dir

    @property
    def timer(self) -> SecondOrStepTimer:
        return self._timer

    def begin(self) -> None:
        for listener in self._listeners:
            listener.begin()

    def after_create_session(self, session: Any, coord: Any) -> None:
        self._writer = session.checkpoint_writer(
            self._checkpoint_dir, self._basename, items=self._items_for(session)
        )
        # Closing or recovering the session waits for a save in flight.
        self._writer.join_with(coord)
        global_step = int(session.run("global_step"))
        self._timer.update_last_triggered_step(global_step)
        if _restored_here(session, self._writer, global_step):
            logging.info(
                "Checkpoint for step %d was just restored; not saving it again.",
                global_step,
            )
            return
        # As in TF1, a stop asked for by this first save's listeners is
        # ignored (also when their after_save comes later).
        self._save(session, global_step)
        if self._unannounced is not None:
            self._unannounced = (self._unannounced[0], False)

    def before_run(self, run_context: Any) -> SessionRunArgs:
        del run_context
        return SessionRunArgs("global_step")

    def after_run(self, run_context: Any, run_values: Any) -> None:
        global_step = int(run_values.results)
        session = run_context.session
        if self._announce(session):
            run_context.request_stop()
        trigger = self._timer.should_trigger_for_step(global_step)
        if self._timer.every_secs is not None and session.is_collective:
            # Clocks differ between workers and every worker must save
            # together: the chief decides, on runs that stepped (every worker
            # joins those; a read may happen on one worker only).
            if run_context.num_steps == 0:
                return
            trigger = session.agree_with_chief(trigger)
        if not trigger:
            return
        self._timer.update_last_triggered_step(global_step)
        if self._save(session, global_step):
            run_context.request_stop()

    def end(self, session: Any) -> None:
        last_step = int(session.run("global_step"))
        if last_step != self._timer.last_triggered_step():
            self._save(session, last_step)
        self._announce(session, wait=True)
        for listener in self._listeners:
            listener.end(session, last_step)

    def next_trigger_step(self, global_step: int) -> int | None:
        """The next step a steps-based save happens at."""
        return self._timer.next_trigger_step(global_step)

    def _items_for(self, session: Any) -> dict[str, Any] | None:
        if self._saver is not None:
            return _compat.checkpoint_children(self._saver)
        if (
            self._scaffold is not None
            and self._scaffold is not session.scaffold
        ):
            return self._scaffold.checkpoint_items()
        return None

    def _save(self, session: Any, step: int) -> bool:
        """Saves the checkpoint for `step`; True if a listener asks to stop
        (in the `after_save` of this save, or of the previous one if its
        files were completed only now)."""
        should_stop = self._announce(session, wait=True)
        if self._listeners:
            logging.info(
                "Calling checkpoint listeners before saving checkpoint %d...",
                step,
            )
        for listener in self._listeners:
            listener.before_save(session, step)
        # The one line a save logs (TF1's words; where it really goes).
        logging.info(
            "Saving checkpoints for %d into %s.", step, self._writer.destination
        )
        self._writer.save(step)
        self._unannounced = (step, True)
        return self._announce(session) or should_stop

    def _announce(self, session: Any, wait: bool = False) -> bool:
        """Calls the listeners' `after_save` of the last save once its files
        are complete (at once for a synchronous writer).

        Args:
          session: what the listeners are given.
          wait: block until the files are complete.

        Returns:
          True if a listener asks to stop.

        Raises:
          RuntimeError: the save's background write failed.
        """
        if self._unannounced is None:
            return False
        step, honour_stop = self._unannounced
        try:
            if wait:
                self._writer.wait()
            if self._writer.pending() == step:
                return False
        except Exception:
            self._unannounced = None  # its write failed: no after_save
            raise
        self._unannounced = None
        if self._listeners:
            logging.info(
                "Calling checkpoint listeners after saving checkpoint %d...",
                step,
            )
        should_stop = False
        for listener in self._listeners:
            if listener.after_save(session, step):
                logging.info(
                    "A CheckpointSaverListener requested that training be stopped. listener: %s",
                    listener,
                )
                should_stop = True
        return should_stop and honour_stop


def _restored_here(session: Any, writer: Any, global_step: int) -> bool:
    """True if the session just restored this step from this directory."""
    restored = session.restored_checkpoint
    if not restored:
        return False
    same_dir = os.path.abspath(os.path.dirname(restored)) == os.path.abspath(
        writer.directory
    )
    return same_dir and session.restored_step == global_step


def _check_listeners(listeners: Sequence[Any] | None) -> list[Any]:
    if listeners is None:
        return []
    if isinstance(listeners, (str, bytes)) or not hasattr(
        listeners, "__iter__"
    ):
        raise TypeError(
            _validation.invalid(
                "listeners", listeners, "a list of CheckpointSaverListener"
            )
        )
    checked = list(listeners)
    for index, listener in enumerate(checked):
        # A listener class (not an instance) has the methods too.
        if isinstance(listener, type) or not all(
            callable(getattr(listener, m, None)) for m in _LISTENER_METHODS
        ):
            raise TypeError(
                _validation.invalid(
                    f"listeners[{index}]",
                    listener,
                    "a CheckpointSaverListener (methods begin, before_save, after_save, end)",
                )
            )
    return checked
