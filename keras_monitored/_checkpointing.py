"""Session checkpoints: one object-based checkpoint holding the user's
trackables, the global step and the hooks' resumable state, written with
`tf.train.CheckpointManager` under TF1's file names (`model.ckpt-<step>`).

Writers, whichever kind, have one interface: `root`, `directory`,
`basename`, `save_path`, `destination` (where saves go, for the log),
`save(step) -> path`, `latest()`, and for saves
whose files may still be in the making (`async_checkpoint=True`, see
`_async_checkpoint`): `pending()` (the step still being written, or None),
`wait()` and `join_with(coordinator)`. A synchronous writer's files are
complete when `save` returns: nothing is ever pending."""

from __future__ import annotations

import logging as pylogging
import os
import shutil
import tempfile
from typing import Any, Mapping

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _name_based_restore, _restore
from keras_monitored._async_checkpoint import AsyncCheckpointWriter, Snapshots
from keras_monitored._checkpoint_directory import (
    check_writable_directory,
    latest_checkpoint,
)
from keras_monitored._hook_state import (
    HookState,
    PendingHookState,
    completed_or,
)
from keras_monitored._input_checkpoint import (
    INPUT_STATE_KEY,
    InputCheckpoint,
    unsaveable_input_hint,
)

DEFAULT_BASENAME = "model.ckpt"


class _DropShardingTimings(pylogging.Filter):
    """TF's saver logs "Sharding callback duration: N microseconds" at INFO
    on every save; a save logs one line (the saver hook's)."""

    def filter(self, record: pylogging.LogRecord) -> bool:
        return not str(record.msg).startswith("Sharding callback duration")


logging.get_absl_logger().addFilter(_DropShardingTimings())
GLOBAL_STEP_KEY = "global_step"
HOOK_STATE_KEY = "keras_monitored_hook_state"


def build_root(
    items: Mapping[str, Any],
    global_step: tf.Variable,
    hook_state: HookState,
    inputs: InputCheckpoint | None = None,
) -> tf.train.Checkpoint:
    """The checkpoint root: the user's items at top level plus km's own (the
    global step, the hooks' state and, with `checkpoint_input`, the fed
    iterators' positions).

    Raises:
      ValueError: an item uses a key km reserves for something else.
    """
    children = dict(items)
    existing = children.get(GLOBAL_STEP_KEY)
    if existing is not None and existing is not global_step:
        raise ValueError(
            f"The checkpoint item {GLOBAL_STEP_KEY!r} ({existing!r}) is not the "
            f"session's global step ({global_step!r}). Pass it as "
            "`km.Scaffold(global_step=...)` too, or rename the item."
        )
    for reserved in (HOOK_STATE_KEY, INPUT_STATE_KEY):
        if reserved in children:
            raise ValueError(
                f"The checkpoint item name {reserved!r} is reserved by "
                "keras_monitored."
            )
    children[GLOBAL_STEP_KEY] = global_step
    children[HOOK_STATE_KEY] = hook_state
    if inputs is not None and inputs.container is not None:
        children[INPUT_STATE_KEY] = inputs.container
    return tf.train.Checkpoint(**children)


class _WritesAtOnce:
    """The part of the writer interface that background writers need: a
    writer whose `save` writes the files before returning has nothing
    pending."""

    def pending(self) -> int | None:
        """The step still being written: never one."""
        return None

    def wait(self) -> None:
        """Every save is complete already."""

    def join_with(self, coordinator: Any) -> None:
        """Nothing to wait for when a session closes."""
        del coordinator


class CheckpointWriter(_WritesAtOnce):
    """Saves one root into one directory as `<basename>-<global step>`.

    Args:
      root: the `tf.train.Checkpoint` to save.
      directory: where the files go.
      max_to_keep: how many checkpoints to keep (older ones are deleted).
      basename: the file prefix before `-<step>`.
    """

    def __init__(
        self,
        root: tf.train.Checkpoint,
        directory: str,
        max_to_keep: int | None,
        basename: str = DEFAULT_BASENAME,
        pending_state: PendingHookState | None = None,
    ):
        self.root = root
        self.directory = directory
        self.basename = basename
        self._pending_state = pending_state
        self._manager = tf.train.CheckpointManager(
            root, directory, max_to_keep=max_to_keep, checkpoint_name=basename
        )

    @property
    def save_path(self) -> str:
        """`directory/basename`, as TF1's CheckpointSaverHook reported it."""
        return os.path.join(self.directory, self.basename)

    @property
    def destination(self) -> str:
        """Where saves go, for the log."""
        return self.save_path

    def save(self, step: int) -> str:
        """Writes the checkpoint for `step` now; returns its path prefix.

        The hooks' state goes in as it is at this moment; the hooks that
        have not yet finished the current phase complete it once they have
        (`PendingHookState`).
        """
        kept = set(self._manager.checkpoints)
        try:
            path = self._manager.save(checkpoint_number=int(step))
        except (tf.errors.OpError, OSError) as error:
            # A full disk, a directory made unwritable while training: TF
            # has not named the new files in 'checkpoint', so the previous
            # checkpoint is still the latest and complete.
            advice = unsaveable_input_hint(error) or (
                f"Check that checkpoint_dir={self.directory!r} is a writable "
                "directory with free space."
            )
            raise RuntimeError(
                f"Writing the checkpoint for global step {int(step)} failed: "
                f"{type(error).__name__}: {getattr(error, 'message', error)}. "
                f"{advice} The latest complete checkpoint is "
                f"{self.latest()!r}."
            ) from error
        logging.vlog(1, "Saved checkpoint for step %d to %s.", step, path)
        if self._pending_state is not None:
            self._pending_state.saved(path)
            self._pending_state.removed(kept - set(self._manager.checkpoints))
        return path

    def latest(self) -> str | None:
        """The newest checkpoint this writer knows of."""
        return self._manager.latest_checkpoint


class ScratchCheckpointWriter(_WritesAtOnce):
    """What a non-chief worker saves with under a collective strategy.

    Every worker must take part in each save (reading distributed variables
    can run collectives), but only the chief's files count: the others write
    into a private directory under the system temp dir and remove it at once.
    With `async_checkpoint=True` the chief writes in the background, and
    these saves stay synchronous (nothing waits for scratch files), but read
    the values as the chief does (`Snapshots`): the same reads in the same
    order, so the collectives match.

    Args:
      root: the `tf.train.Checkpoint` to save.
      directory: the chief's directory (reported, never written).
      basename: the file prefix.
      task: a label for the temp directory (`worker_1`).
      snapshots: take the values as a background writer does.
    """

    def __init__(
        self,
        root: tf.train.Checkpoint,
        directory: str,
        basename: str,
        task: str,
        snapshots: Snapshots | None = None,
    ):
        self.root = root
        self.directory = directory
        self.basename = basename
        self._task = task
        self._snapshots = snapshots

    @property
    def save_path(self) -> str:
        return os.path.join(self.directory, self.basename)

    @property
    def destination(self) -> str:
        """Where saves go, for the log: not the chief's directory."""
        return (
            f"a scratch directory under {tempfile.gettempdir()} (this "
            "worker's part of the collective save, deleted at once; the "
            f"chief writes {self.save_path})"
        )

    def save(self, step: int) -> str:
        scratch = tempfile.mkdtemp(prefix=f"km_{self._task}_")
        path = os.path.join(scratch, f"{self.basename}-{int(step)}")
        try:
            if self._snapshots is None:
                path = self.root.write(path)
            else:
                self._snapshots.write(path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return path

    def latest(self) -> str | None:
        return latest_checkpoint(self.directory)


class SessionCheckpoints:
    """What a session checkpoints, and the writers that save it.

    Args:
      items: the scaffold's named trackables.
      global_step: the session's global step variable.
      max_to_keep: checkpoints kept per directory.
      async_save: the chief's writers write in the background
        (`AsyncCheckpointWriter`); scratch writers of non-chief workers stay
        synchronous (see `ScratchCheckpointWriter`).
    """

    def __init__(
        self,
        items: Mapping[str, Any],
        global_step: tf.Variable,
        max_to_keep: int | None = 5,
        *,
        async_save: bool = False,
        checkpoint_input: bool = False,
    ):
        self.hook_state = HookState()
        self.pending_state = PendingHookState(self.hook_state)
        self.global_step = global_step
        self.max_to_keep = max_to_keep
        self.async_save = bool(async_save)
        self.inputs = InputCheckpoint(checkpoint_input)
        self.root = build_root(items, global_step, self.hook_state, self.inputs)
        self._writers: dict[tuple[str, str], Any] = {}
        # Writers of other trackables (a hook's own saver), by directory:
        # the newest one, made when its hook's session was (re)created.
        self._item_writers: dict[tuple[str, str], Any] = {}

    def scratch_writer(
        self,
        directory: str,
        basename: str,
        task: str,
        items: Mapping[str, Any] | None = None,
    ) -> ScratchCheckpointWriter:
        """A writer for a non-chief worker of a collective strategy."""
        root = (
            self.root
            if items is None
            else build_root(items, self.global_step, self.hook_state)
        )
        snapshots = Snapshots(root) if self.async_save else None
        return ScratchCheckpointWriter(
            root, directory, basename, task, snapshots
        )

    def writer(
        self,
        directory: str,
        basename: str = DEFAULT_BASENAME,
        items: Mapping[str, Any] | None = None,
    ) -> CheckpointWriter | AsyncCheckpointWriter:
        """A writer for `directory` (shared by everyone who saves there).

        Args:
          directory: the checkpoint directory.
          basename: the file prefix.
          items: other trackables to save instead of the session's (a hook
            given its own scaffold or `saver`); the global step and hook state
            are added to them.

        Returns:
          An `AsyncCheckpointWriter` with `async_save`, else a
          `CheckpointWriter`.
        """
        key = (os.path.abspath(directory), basename)
        if items is not None:
            previous = self._item_writers.get(key)
            if previous is not None:
                previous.wait()  # one writer of a directory at a time
            root = build_root(items, self.global_step, self.hook_state)
            check_writable_directory("checkpoint_dir", directory)
            writer = self._new_writer(root, directory, basename)
            self._item_writers[key] = writer
            return writer
        writer = self._writers.get(key)
        if writer is None:
            # Refused now, naming it, rather than at the first save.
            check_writable_directory("checkpoint_dir", directory)
            writer = self._new_writer(self.root, directory, basename)
            self._writers[key] = writer
        return writer

    def wait(self) -> None:
        """Blocks until the files of every save of these writers are
        complete (nothing to wait for without `async_save`).

        Raises:
          RuntimeError: a background write failed.
        """
        for writer in [*self._writers.values(), *self._item_writers.values()]:
            writer.wait()

    def _new_writer(
        self, root: tf.train.Checkpoint, directory: str, basename: str
    ) -> CheckpointWriter | AsyncCheckpointWriter:
        kind = AsyncCheckpointWriter if self.async_save else CheckpointWriter
        return kind(
            root, directory, self.max_to_keep, basename, self.pending_state
        )

    def restore(
        self, path: str, options: _restore.RestoreOptions
    ) -> _restore.RestoreRecord:
        """Restores `path` into the root: a TF2 object-based checkpoint, or a
        TF1 name-based one whose names all match the session's variables.

        Trackables not built yet (a Keras model before its first call) get
        their values when they are created; verify the returned record after
        the first step.

        Args:
          path: the checkpoint's path prefix.
          options: strictness and the fixes messages suggest.

        Returns:
          The restore record; its `hook_state` holds the hooks' states.

        Raises:
          ValueError: the restore would leave variables without a value.
        """
        reader = tf.train.load_checkpoint(path)
        if reader.has_tensor(_compat.OBJECT_GRAPH_KEY):
            record = _restore.restore_object_based(
                self.root,
                path,
                global_step=self.global_step,
                hook_state=self.hook_state,
                options=options,
            )
        else:
            record = _name_based_restore.restore(
                reader,
                root=self.root,
                path=path,
                global_step=self.global_step,
                excluded=_restore.bookkeeping(self.root, self.hook_state),
                options=options,
            )
        record.hook_state = completed_or(path, record.hook_state)
        self.inputs.restored_from(path, reader)
        logging.info(
            "Restored checkpoint %s (global step %d).",
            path,
            _compat.read_scalar(self.global_step),
        )
        return record
