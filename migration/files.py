"""Safe file writes for km-migrate: a temp file and a rename, so a reader (or
a crash) never sees half a file; backups that never overwrite one another."""

from __future__ import annotations

import os
import shutil
import tempfile

from migration.errors import UsageError


def atomic_write(path: str, text: str) -> None:
    """Writes `text` to `path` through a temp file in the same directory and
    a rename; the file keeps its permission bits if it existed."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else None
    handle, temp_path = tempfile.mkstemp(
        dir=directory, prefix=".km-migrate-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        if mode is not None:
            os.chmod(temp_path, mode)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def backup(path: str) -> str:
    """Copies `path` to the first free `path.bak`, `path.bak1`, ...; returns
    the backup's path."""
    candidate, number = f"{path}.bak", 0
    while os.path.exists(candidate):
        number += 1
        candidate = f"{path}.bak{number}"
    shutil.copy2(path, candidate)
    return candidate


def check_writable_dir(path: str, argument: str) -> None:
    """Checks that `path` is (or can be made as) a writable directory,
    without creating it.

    Raises:
      UsageError: naming `argument` and `path`.
    """
    target = os.path.abspath(path)
    if os.path.exists(target) and not os.path.isdir(target):
        raise UsageError(f"`{argument}` {path!r} is a file, not a directory.")
    existing = target
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(
            f"`{argument}` {path!r} cannot be created: {existing!r} is a file."
        )
    try:
        probe = tempfile.mkdtemp(dir=existing, prefix=".km-migrate-probe-")
    except OSError as error:
        raise UsageError(
            f"`{argument}` {path!r} is not writable: {error.strerror} "
            f"({existing!r})."
        ) from None
    os.rmdir(probe)
