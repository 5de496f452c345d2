"""Simulating a SIGKILL inside one test process.

A killed process runs nothing more: no hook `end`, no final save, no flush.
What it leaves is what the kernel already had -- the bytes written to files so
far. Whatever the process still held in its own memory is gone; for training
that is chiefly the summary writers' queues (TensorFlow's event writers keep
up to `max_queue` events, or `flush_millis`, in memory before writing them).

`abandon` reproduces that in-process, so the same process can then play the
restarted program. tests/test_crash_resume.py checks it against a real
`kill -9` of a subprocess.
"""

from __future__ import annotations

import glob
import os
import shutil

from keras_monitored import _summary_writers


def abandon(session) -> None:
    """Leaves `session` the way `kill -9` of its process would.

    Nothing is called on the session (no `end`, no save, no flush): the
    caller must not use it again. Every event file of the process's summary
    writers is frozen at its current on-disk bytes -- the writers' in-memory
    queues are lost, as a kill loses them -- and the writers are forgotten, so
    the next session writes new event files, as a restarted process does.

    Args:
      session: the session to abandon (documentation only: a killed process
        takes its sessions with it).
    """
    del session
    writers = _process_summary_writers()
    for logdir in list(writers):
        for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
            _freeze(path)
    # The old writers stay alive until garbage collected; whatever they
    # flush then goes to the unlinked files above, never to disk.
    writers.clear()


def _process_summary_writers() -> dict:
    """The process-wide `logdir -> tf.summary writer` cache of the library."""
    writers = getattr(_summary_writers, "_writers", None)
    if writers is None:
        raise RuntimeError(
            "tests/crash.py: keras_monitored._summary_writers no longer keeps "
            "its writers in `_writers`; update abandon() to forget them, or "
            "a restarted session would reuse a killed process's writer."
        )
    return writers


def _freeze(path: str) -> None:
    """Replaces `path` by a copy of its current bytes.

    The writer keeps its open handle on the old, now unlinked, file; the path
    itself still exists, so TensorFlow's writer does not start a new file
    either (it only does so when the path disappears).
    """
    frozen = path + ".frozen"
    shutil.copyfile(path, frozen)
    os.replace(frozen, path)
