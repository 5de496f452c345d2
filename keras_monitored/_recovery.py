"""Recovery: TF1's `_RecoverableSession`, bounded.

On `tf.errors.AbortedError` or `UnavailableError` during a run (hooks
included), the session is discarded, recreated through its creator (which
restores the latest checkpoint; hooks get `after_create_session` again, not
`begin`) and the same call is retried. TF1 retried forever, immediately; km
tries `max_attempts` times with exponential backoff. Under a collective
strategy nothing is retried: TF aborts the process's collective executor for
good, so the job must restart (and resumes from the latest checkpoint).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import tensorflow as tf
from absl import logging

PREEMPTION_ERRORS = (tf.errors.AbortedError, tf.errors.UnavailableError)


@dataclasses.dataclass(frozen=True)
class RecoveryOptions:
    """How a `MonitoredSession` retries after a preemption error.

    Attributes:
      max_attempts: consecutive recoveries before the error is re-raised.
      backoff_secs: the wait before the second attempt; it doubles after.
      backoff_cap_secs: the longest wait.
      sleep: how to wait (tests pass a fake).
    """

    max_attempts: int = 10
    backoff_secs: float = 1.0
    backoff_cap_secs: float = 30.0
    sleep: Callable[[float], Any] = time.sleep

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before recovery attempt `attempt` (1-based)."""
        if attempt <= 1:
            return 0.0
        return min(
            self.backoff_secs * 2 ** (attempt - 2), self.backoff_cap_secs
        )


def with_recovery(
    call: Callable[[], Any],
    *,
    ensure_session: Callable[[], None],
    discard_session: Callable[[], None],
    should_recover: bool,
    collective: bool,
    options: RecoveryOptions,
) -> Any:
    """Runs `call` (after `ensure_session`), recovering from preemption.

    Args:
      call: the work to do in the current session.
      ensure_session: creates the session if there is none.
      discard_session: drops the current session (the next
        `ensure_session` recreates it, restoring the latest checkpoint).
      should_recover: False for sessions that re-raise (Singular).
      collective: True under a collective strategy (re-raise: the job must
        restart).
      options: attempts and backoff.

    Returns:
      What `call` returned.

    Raises:
      tf.errors.AbortedError, tf.errors.UnavailableError: not recoverable
        here, or still failing after `options.max_attempts` recoveries.
    """
    failures = 0
    while True:
        try:
            ensure_session()
            return call()
        except PREEMPTION_ERRORS as error:
            if not should_recover:
                raise
            if getattr(error, "restart_required", False):
                # A lost parameter server took variables this process
                # cannot re-create: the error says to restart the chief.
                raise
            if collective:
                logging.error(
                    "%s under a collective strategy: a peer worker failed. "
                    "Restart every worker; training resumes from the latest "
                    "checkpoint.",
                    type(error).__name__,
                )
                raise
            failures += 1
            if failures > options.max_attempts:
                logging.error(
                    "Giving up after %d recovery attempts.",
                    options.max_attempts,
                )
                raise
            logging.warning(
                "%s: %s. Recreating the session and retrying (attempt %d of "
                "%d).",
                type(error).__name__,
                error,
                failures,
                options.max_attempts,
            )
            discard_session()
            wait = options.wait_before(failures)
            if wait > 0:
                options.sleep(wait)
