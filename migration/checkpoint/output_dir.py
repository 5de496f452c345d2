"""The `--out` directory: checked first, written through a staging directory
next to it, filled only once the conversion is verified."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from migration.checkpoint._errors import bad_argument
from migration.errors import UsageError

STAGING_PREFIX = ".km-migrate-"
_CHECKPOINT_BASENAME = "model.ckpt"


def _existing_checkpoint_files(directory: str) -> list[str]:
    return sorted(
        name
        for name in os.listdir(directory)
        if name == "checkpoint" or name.startswith(_CHECKPOINT_BASENAME + "-")
    )


def _nearest_existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_output_dir(out: str) -> str:
    """Checks that `--out` can take a new checkpoint; returns its absolute path.

    Args:
      out: the `--out` value: a directory that is missing (it is created,
        with missing parents) or holds no checkpoint yet.

    Raises:
      UsageError: a URL, a file, a directory that already holds a checkpoint,
        or a place that cannot be written (checked on the nearest existing
        ancestor, where the staging directory goes).
    """
    expected = "a new or empty local directory in a writable place"
    if not out or "://" in out:
        raise bad_argument(
            "--out", out, "km-migrate writes to a local directory.", expected
        )
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise bad_argument("--out", out, "It is a file.", expected)
    if os.path.isdir(path):
        existing = _existing_checkpoint_files(path)
        if existing:
            shown = ", ".join(existing[:4]) + (
                ", ..." if len(existing) > 4 else ""
            )
            raise bad_argument(
                "--out",
                out,
                f"It already holds a checkpoint ({shown}); km-migrate never "
                "overwrites one.",
                expected,
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise bad_argument("--out", out, "It is not writable.", expected)
    parent = _nearest_existing(os.path.dirname(path))
    if not os.path.isdir(parent):
        raise bad_argument(
            "--out", out, f"{parent!r} is a file, not a directory.", expected
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise bad_argument(
            "--out", out, f"{parent!r} is not writable.", expected
        )
    return path


@contextlib.contextmanager
def staging_dir(out: str) -> Iterator[str]:
    """A temporary directory next to `out` (or its nearest existing
    ancestor), removed on exit whatever happens."""
    parent = _nearest_existing(os.path.dirname(out))
    try:
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
    except OSError as error:
        raise bad_argument(
            "--out",
            out,
            f"Cannot create a staging directory in {parent!r} ({error}).",
            "a writable place",
        ) from error
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: str, out: str) -> None:
    """Moves every file of `staging` into `out` (the `checkpoint` index last).

    On failure, what was moved is removed again, so `out` never holds part
    of a checkpoint.

    Raises:
      UsageError: `out` cannot be created or written after all.
    """
    created = None  # the topmost directory this call creates
    missing = out
    while not os.path.exists(missing):
        created, missing = missing, os.path.dirname(missing)
    moved: list[str] = []
    names = sorted(os.listdir(staging), key=lambda name: name == "checkpoint")
    try:
        os.makedirs(out, exist_ok=True)
        for name in names:
            target = os.path.join(out, name)
            os.replace(os.path.join(staging, name), target)
            moved.append(target)
    except OSError as error:
        for target in moved:
            with contextlib.suppress(OSError):
                os.remove(target)
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise UsageError(
            f"Could not move the checkpoint into `--out` {out!r}: {error}. "
            "Nothing was written."
        ) from error
