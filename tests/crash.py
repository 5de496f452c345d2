"""Simulating a crash inside one test process."""

from __future__ import annotations

from keras_monitored import _summary_writers as summary_writers


def abandon(session) -> None:
    """Leaves a monitored session the way a killed process leaves it: no hook
    `end`, no final save; files written so far are flushed, as the OS would
    have them after a kill (event writers buffer in-process)."""
    session._session = None  # pylint: disable=protected-access
    session._closed = True  # pylint: disable=protected-access
    summary_writers.flush()
