"""Session checkpoints: one object-based checkpoint holding the user's
trackables, the global step and the hooks' resumable state, written with
`tf.train.CheckpointManager` under TF1's file names (`model.ckpt-<step>`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Mapping

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _name_based_restore, _restore
from keras_monitored._hook_state import (
    HookState,
    PendingHookState,
    completed_or,
)

DEFAULT_BASENAME = "model.ckpt"
GLOBAL_STEP_KEY = "global_step"
HOOK_STATE_KEY = "keras_monitored_hook_state"


def build_root(
    items: Mapping[str, Any], global_step: tf.Variable, hook_state: HookState
) -> tf.train.Checkpoint:
    """The checkpoint root: the user's items at top level plus km's own.

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
    if HOOK_STATE_KEY in children:
        raise ValueError(
            f"The checkpoint item name {HOOK_STATE_KEY!r} is reserved by keras_monitored."
        )
    children[GLOBAL_STEP_KEY] = global_step
    children[HOOK_STATE_KEY] = hook_state
    return tf.train.Checkpoint(**children)


class CheckpointWriter:
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

    def save(self, step: int) -> str:
        """Writes the checkpoint for `step` now; returns its path prefix.

        The hooks' state goes in as it is at this moment; the hooks that
        have not yet finished the current phase complete it once they have
        (`PendingHookState`).
        """
        kept = set(self._manager.checkpoints)
        path = self._manager.save(checkpoint_number=int(step))
        logging.info("Saved checkpoint for step %d to %s.", step, path)
        if self._pending_state is not None:
            self._pending_state.saved(path)
            self._pending_state.removed(kept - set(self._manager.checkpoints))
        return path

    def latest(self) -> str | None:
        """The newest checkpoint this writer knows of."""
        return self._manager.latest_checkpoint


class ScratchCheckpointWriter:
    """What a non-chief worker saves with under a collective strategy.

    Every worker must take part in each save (reading distributed variables
    can run collectives), but only the chief's files count: the others write
    into a private directory under the system temp dir and remove it at once.

    Args:
      root: the `tf.train.Checkpoint` to save.
      directory: the chief's directory (reported, never written).
      basename: the file prefix.
      task: a label for the temp directory (`worker_1`).
    """

    def __init__(
        self,
        root: tf.train.Checkpoint,
        directory: str,
        basename: str,
        task: str,
    ):
        self.root = root
        self.directory = directory
        self.basename = basename
        self._task = task

    @property
    def save_path(self) -> str:
        return os.path.join(self.directory, self.basename)

    def save(self, step: int) -> str:
        scratch = tempfile.mkdtemp(prefix=f"km_{self._task}_")
        try:
            path = self.root.write(
                os.path.join(scratch, f"{self.basename}-{int(step)}")
            )
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
    """

    def __init__(
        self,
        items: Mapping[str, Any],
        global_step: tf.Variable,
        max_to_keep: int | None = 5,
    ):
        self.hook_state = HookState()
        self.pending_state = PendingHookState(self.hook_state)
        self.global_step = global_step
        self.max_to_keep = max_to_keep
        self.root = build_root(items, global_step, self.hook_state)
        self._writers: dict[tuple[str, str], CheckpointWriter] = {}

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
        return ScratchCheckpointWriter(root, directory, basename, task)

    def writer(
        self,
        directory: str,
        basename: str = DEFAULT_BASENAME,
        items: Mapping[str, Any] | None = None,
    ) -> CheckpointWriter:
        """A writer for `directory` (shared by everyone who saves there).

        Args:
          directory: the checkpoint directory.
          basename: the file prefix.
          items: other trackables to save instead of the session's (a hook
            given its own scaffold or `saver`); the global step and hook state
            are added to them.
        """
        if items is not None:
            root = build_root(items, self.global_step, self.hook_state)
            return CheckpointWriter(
                root, directory, self.max_to_keep, basename, self.pending_state
            )
        key = (os.path.abspath(directory), basename)
        writer = self._writers.get(key)
        if writer is None:
            writer = CheckpointWriter(
                self.root,
                directory,
                self.max_to_keep,
                basename,
                self.pending_state,
            )
            self._writers[key] = writer
        return writer

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
        logging.info(
            "Restored checkpoint %s (global step %d).",
            path,
            _compat.read_scalar(self.global_step),
        )
        return record


def latest_checkpoint(directory: str | None) -> str | None:
    """The newest checkpoint of `directory` (None for no directory or no
    checkpoint).

    `tf.train.latest_checkpoint`, and more: a directory that was moved or
    copied keeps a `checkpoint` file naming paths elsewhere (TF1 wrote
    absolute ones); TF then finds nothing and a session would start from
    scratch and overwrite the files. The checkpoint files in the directory
    are used instead, with a warning.

    Raises:
      ValueError: the directory holds checkpoint files but none of them can
        be told to be the latest.
    """
    if not directory or not tf.io.gfile.exists(directory):
        return None
    path = tf.train.latest_checkpoint(directory)
    if path:
        return path
    return _relocated_latest(directory)


def _relocated_latest(directory: str) -> str | None:
    present = {
        os.path.basename(name)[: -len(".index")]
        for name in tf.io.gfile.glob(os.path.join(directory, "*.index"))
    }
    if not present:
        return None
    state = tf.train.get_checkpoint_state(directory)
    named = (
        [os.path.basename(p) for p in state.all_model_checkpoint_paths]
        + [os.path.basename(state.model_checkpoint_path)]
        if state
        else []
    )
    listed = [name for name in named if name in present]
    stepped = [name for name in present if checkpoint_step(name) is not None]
    if listed:
        chosen = listed[-1]
    elif stepped and not named:
        chosen = max(stepped, key=checkpoint_step)
    else:
        raise ValueError(
            f"checkpoint_dir={directory!r} holds checkpoint files "
            f"{sorted(present)} but its 'checkpoint' file names "
            f"{named or 'none of them'}. Restoring none would start from "
            "scratch and overwrite them: fix the 'checkpoint' file (or remove "
            "it to use the highest step), or pass the one to restore as "
            "checkpoint_filename_with_path."
        )
    if state:
        logging.warning(
            "The 'checkpoint' file of %s names %s, which is not there (was "
            "the directory moved or copied?); restoring %s from the "
            "directory itself.",
            directory,
            state.model_checkpoint_path,
            chosen,
        )
    else:
        logging.warning(
            "%s has no 'checkpoint' file; restoring %s, its highest step.",
            directory,
            chosen,
        )
    return os.path.join(directory, chosen)


def checkpoint_step(path: str | None) -> int | None:
    """The global step in a `...-<step>` checkpoint path, or None."""
    if not path:
        return None
    try:
        return int(path.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def checkpoint_at_step(directory: str | None, step: int) -> str | None:
    """The path of the checkpoint for `step` listed in `directory`."""
    if not directory:
        return None
    state = tf.train.get_checkpoint_state(directory)
    for path in list(state.all_model_checkpoint_paths) if state else []:
        if checkpoint_step(path) == step:
            return (
                path if os.path.isabs(path) else os.path.join(directory, path)
            )
    return None
