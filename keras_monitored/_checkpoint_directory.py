"""Checkpoint directories: which checkpoint a session restores, and
whether it can save there.

`latest_checkpoint` is `tf.train.latest_checkpoint` that also finds the
checkpoints of a directory that was moved or copied.

A checkpoint whose files are damaged (a truncated data shard, a corrupt
index: a disk that filled up, a copy that stopped half way) must neither
crash the next start with a low-level read error nor be skipped silently.
Before a restore every value of the candidate is read once (the index, the
object graph and each tensor, with TF's checksums); the newest readable
checkpoint of the directory is restored, with a warning naming the ones
passed over; when none can be read the session refuses to start rather
than train from scratch over the files.

A checkpoint directory that cannot be created or written is refused before
the first step, naming it, rather than at the first save.
"""

from __future__ import annotations

import os
import uuid

import tensorflow as tf
from absl import app, logging


def read_problem(path: str) -> str | None:
    """Why the checkpoint at `path` cannot be restored, or None if every
    value in it reads back (checksums included)."""
    try:
        reader = tf.train.load_checkpoint(path)
        for name, dtype in sorted(reader.get_variable_to_dtype_map().items()):
            if dtype == tf.variant:
                # Iterator states (checkpoint_input) have no numpy form: the
                # restore op reads them, checksums included.
                with tf.device("/cpu:0"):
                    tf.raw_ops.RestoreV2(
                        prefix=path,
                        tensor_names=[name],
                        shape_and_slices=[""],
                        dtypes=[tf.variant],
                    )
            else:
                reader.get_tensor(name)
    except Exception as error:  # pylint: disable=broad-except
        # TF reports damage as DataLossError, OutOfRangeError, NotFoundError
        # or even IndexError ("Read less bytes than requested").
        message = getattr(error, "message", None) or str(error)
        return f"{type(error).__name__}: {message.strip()}"
    return None


def _candidates(directory: str, latest: str) -> list[str]:
    """The checkpoints of `directory`, newest first, `latest` leading."""
    try:
        state = tf.train.get_checkpoint_state(directory)
        listed = list(state.all_model_checkpoint_paths) if state else []
    except Exception:  # pylint: disable=broad-except
        listed = []  # a damaged 'checkpoint' file: the files tell
    present = [
        name[: -len(".index")]
        for name in tf.io.gfile.glob(os.path.join(directory, "*.index"))
    ]
    paths = [
        p if os.path.isabs(p) else os.path.join(directory, p) for p in listed
    ] + [p for p in present if checkpoint_step(p) is not None]
    ordered = [latest]
    seen = {os.path.normpath(latest)}
    for path in sorted(paths, key=checkpoint_step, reverse=True):
        if os.path.normpath(path) not in seen:
            seen.add(os.path.normpath(path))
            ordered.append(path)
    return ordered


def restorable_checkpoint(directory: str | None) -> str | None:
    """The newest checkpoint of `directory` that can be read in full.

    Returns:
      Its path prefix, or None when the directory holds no checkpoint.

    Raises:
      tf.errors.DataLossError: checkpoints are there but none can be read;
        the message names `checkpoint_dir` and each checkpoint's problem.
    """
    latest = latest_checkpoint(directory)
    if latest is None:
        return None
    problems: list[tuple[str, str]] = []
    for path in _candidates(directory, latest):
        problem = read_problem(path)
        if problem is None:
            if problems:
                logging.warning(
                    "Checkpoint %s cannot be read (%s); restoring %s, the "
                    "newest checkpoint of %s that can, instead.%s",
                    problems[0][0],
                    problems[0][1],
                    path,
                    directory,
                    _others(problems[1:]),
                )
            return path
        problems.append((path, problem))
    raise tf.errors.DataLossError(
        None,
        None,
        f"No checkpoint in checkpoint_dir={directory!r} can be read, so the "
        "session cannot resume (and will not start from scratch over them): "
        + "; ".join(f"{path}: {problem}" for path, problem in problems)
        + ". Restore the directory from a backup, or pass another "
        "checkpoint_dir to start afresh.",
    )


def _others(problems: list[tuple[str, str]]) -> str:
    if not problems:
        return ""
    return " Also unreadable: " + "; ".join(
        f"{path} ({problem})" for path, problem in problems
    )


def check_restorable(argument: str, path: str) -> str:
    """Checks a checkpoint named explicitly (no fallback: the caller chose).

    Raises:
      tf.errors.DataLossError: it cannot be read; the message names the
        argument and the path.
    """
    problem = read_problem(path)
    if problem is not None:
        raise tf.errors.DataLossError(
            None,
            None,
            f"The checkpoint {argument}={path!r} cannot be read: {problem}.",
        )
    return path


class UnusableDirectoryError(PermissionError):
    """A directory km must write (checkpoints, summaries) cannot be written.

    Attributes:
      argument: the argument that named it (`checkpoint_dir`).
      directory: the directory.
      reason: what went wrong (the underlying error).
    """

    def __init__(self, argument: str, directory: str, reason: str, shown: str):
        super().__init__(
            f"{shown}={directory!r} cannot be used: {reason}. Pass a directory "
            "this process can create and write."
        )
        self.argument = argument
        self.directory = directory
        self.reason = reason

    def for_flag(self) -> "UnusableDirectoryError":
        """The same error, naming the flag (`--checkpoint_dir`): also an
        `absl.app.UsageError`, so `app.run` prints the message and the
        usage, without a traceback."""
        return UnusableFlagDirectoryError(
            self.argument,
            self.directory,
            self.reason,
            f"flag --{self.argument}",
        )


class UnusableFlagDirectoryError(UnusableDirectoryError, app.UsageError):
    """An `UnusableDirectoryError` for a directory a flag named."""

    exitcode = 1  # what app.run exits with


def check_writable_directory(argument: str, directory: str) -> None:
    """Creates `directory` if needed and writes (then removes) a probe file
    in it, so a save cannot be the first to find it unusable.

    Raises:
      UnusableDirectoryError: (a PermissionError) the directory cannot be
        created or written (also for a path through a file, or a full
        disk); the message names the argument and the directory.
    """
    try:
        tf.io.gfile.makedirs(directory)
        probe = os.path.join(directory, f".km_write_probe_{uuid.uuid4().hex}")
        with tf.io.gfile.GFile(probe, "w") as handle:
            handle.write("probe")
        tf.io.gfile.remove(probe)
    except Exception as error:  # pylint: disable=broad-except
        message = getattr(error, "message", None) or str(error)
        raise UnusableDirectoryError(
            argument,
            directory,
            f"{type(error).__name__}: {message.strip()}",
            argument,
        ) from error


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
