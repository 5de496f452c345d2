"""Preemption: a signal (SIGTERM by default) asks a training process to
stop soon; the step in progress finishes, a checkpoint is saved at that
step, and the process exits with `PREEMPTED_EXIT_CODE`.

`PreemptionWatcher` installs handlers that only record the request (a
signal can arrive in the middle of a step, or of a save); the monitored
session (or `HookCallback` inside `model.fit`) looks at it after each run
and stops, so hooks' `end` run as for any stop and the default
`CheckpointSaverHook` saves the last step. A second signal while the first
is pending is not swallowed: the previous handler is put back and the
signal delivered again (a process stuck in a step can still be terminated).
Handlers are installed from the main thread only (Python's rule) and the
previous ones are restored when the watcher is closed.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Iterable

from absl import logging

#: The exit code of a preempted training binary (Borg's convention, which
#: tf.distribute's PreemptionCheckpointHandler uses too): a job manager
#: restarts it, and it resumes from the checkpoint saved at preemption.
PREEMPTED_EXIT_CODE = 42


class PreemptionWatcher:
    """Records preemption signals while open.

    Args:
      signals: the signals that preempt (`()`: none; the watcher is inert).
      what: who is watching, for log lines (`the monitored session`).
    """

    def __init__(self, signals: Iterable[signal.Signals], what: str):
        self._signals = tuple(signals)
        self._what = what
        self._previous: dict[signal.Signals, Any] = {}
        self._received: signal.Signals | None = None

    @property
    def requested(self) -> bool:
        """True once a preemption signal arrived."""
        return self._received is not None

    def open(self) -> "PreemptionWatcher":
        """Installs the handlers (main thread only; elsewhere says so once)."""
        if not self._signals:
            return self
        if threading.current_thread() is not threading.main_thread():
            logging.warning(
                "%s runs outside the main thread: preemption signals %s are "
                "not handled (Python installs signal handlers from the main "
                "thread only).",
                self._what,
                [s.name for s in self._signals],
            )
            return self
        for number in self._signals:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def close(self) -> None:
        """Puts the previous handlers back."""
        previous, self._previous = self._previous, {}
        for number, handler in previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: Any) -> None:
        del frame
        received = signal.Signals(number)
        if self._received is not None:
            # A second signal: do what the process would have done.
            logging.warning(
                "%s again while the preemption is pending: passing it on.",
                received.name,
            )
            self.close()
            signal.raise_signal(received)
            return
        self._received = received
        logging.warning(
            "%s received: %s finishes the step in progress, saves a "
            "checkpoint at it and stops.",
            received.name,
            self._what,
        )
