"""Waiting for a multi-worker job's other tasks in Python, where SIGTERM,
Ctrl-C and a timeout can end the wait.

Creating a `tf.distribute.MultiWorkerMirroredStrategy` blocks inside
TensorFlow's C++ until every task of the cluster has connected to its
coordination service. A worker whose peer never starts waits there for
good: Python signal handlers cannot run, so SIGTERM and Ctrl-C do nothing
and only SIGKILL ends it. `wait_for_peers`, called before the strategy is
created, does that wait in Python:

- each `chief` / `worker` task of TF_CONFIG's cluster opens a small TCP
  *beacon* on its own port (the one TensorFlow's server takes next) that
  greets every connection with `GREETING`;
- the coordination leader (TF's rule: `chief` 0, else `worker` 0) polls the
  other tasks' ports until each one answers, then closes its beacon and
  returns: its TensorFlow server takes the port;
- every other task polls until the leader's port answers without the
  greeting -- the leader's TensorFlow server is up, so every task was up --
  then closes its beacon and returns.

So no task enters TensorFlow's wait before all of them are up (short of a
task dying in the moment between), and no TensorFlow connection ever
reaches a beacon: the other tasks start their servers, which connect to
the leader, only once the leader's beacon is gone. A beacon answers as soon
as its process reaches the wait, so an early task waits for the others,
however late they come (up to the timeout).
"""

from __future__ import annotations

import dataclasses
import math
import signal
import socket
import threading
import time
from typing import Any

from absl import logging

from keras_monitored import _roles as roles
from keras_monitored import _validation

#: How long `wait_for_peers` waits by default (`--peer_timeout_secs`).
DEFAULT_PEER_TIMEOUT_SECS = 300.0

#: What a beacon says to every connection (then it waits for the prober to
#: close first, so no TIME_WAIT socket holds the port TensorFlow binds next).
GREETING = b"keras_monitored peer wait\n"

_POLL_SECS = 0.2  # between two rounds of probes
_PROBE_SECS = 1.0  # to connect to a peer, then to read its greeting
_LOG_EVERY_SECS = 30.0  # "still waiting" lines

_HOW_TO_CHANGE = (
    "--peer_timeout_secs=N (keras_monitored.flags) or "
    "km.distribute.wait_for_peers(timeout_secs=N)"
)


class PeerWaitTimeoutError(TimeoutError):
    """The other tasks of the cluster did not all start in time."""


class PeerWaitInterruptedError(RuntimeError):
    """A signal ended the wait (raised if its handler let the process live)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of the cluster: `worker:1 (127.0.0.1:2223)`."""

    job: str
    index: int
    address: str

    def __str__(self) -> str:
        return f"{self.job}:{self.index} ({self.address})"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


def _cluster() -> tuple[Task | None, Task | None, list[Task]]:
    """(this task, the coordination leader, the other tasks) of TF_CONFIG's
    chief and worker tasks; (None, None, []) when this process is none of
    them (no TF_CONFIG, an evaluator)."""
    task_type, task_id, cluster = roles.task_from_tf_config()
    if task_type not in ("chief", "worker") or task_id is None:
        return None, None, []
    tasks = []
    # A parameter-server job's ps tasks only serve: the chief waits for
    # them too (nobody waits for the chief there).
    for job in ("chief", "worker", "ps"):
        addresses = cluster.get(job) or []
        items = (
            addresses.items()
            if isinstance(addresses, dict)
            else enumerate(addresses)
        )
        tasks += [Task(job, int(index), address) for index, address in items]
    this = next(
        (t for t in tasks if (t.job, t.index) == (task_type, task_id)), None
    )
    leader = next(
        (t for t in tasks if roles.is_chief_task(t.job, t.index, cluster)),
        None,
    )
    return this, leader, [t for t in tasks if t != this]


def _probe(task: Task) -> str:
    """'absent' (nothing listens, or the connection is dropped unanswered:
    a beacon closing), 'waiting' (its beacon greets) or 'started' (a server
    that keeps the connection and says something else, or nothing: its
    TensorFlow server)."""
    try:
        connection = socket.create_connection(
            task.host_port, timeout=_PROBE_SECS
        )
    except OSError:  # refused, unreachable, unknown host, timed out
        return "absent"
    received = b""
    with connection:
        try:
            while len(received) < len(GREETING):
                chunk = connection.recv(len(GREETING) - len(received))
                if not chunk:
                    return "absent"
                received += chunk
                if not GREETING.startswith(received):
                    return "started"
        except socket.timeout:
            return "started" if not received else "absent"
        except OSError:
            return "absent"
    return "waiting"


class _Beacon:
    """Greets every connection on `port` from a daemon thread until closed."""

    def __init__(self, port: int):
        if socket.has_dualstack_ipv6():
            self._server = socket.create_server(
                ("", port), family=socket.AF_INET6, dualstack_ipv6=True
            )
        else:
            self._server = socket.create_server(("", port))
        self._server.settimeout(0.1)
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, name="km-peer-wait-beacon", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                connection, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with connection:
                try:
                    connection.settimeout(_PROBE_SECS)
                    connection.sendall(GREETING)
                    connection.recv(1)  # until the prober closes
                except OSError:
                    pass

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self._server.close()


class _Terminated(BaseException):
    """Raised by the wait's SIGTERM handler."""


def _raise_terminated(number: int, frame: Any) -> None:
    del number, frame
    raise _Terminated()


def _listing(tasks: list[Task]) -> str:
    return ", ".join(map(str, tasks))


def _check_timeout(timeout_secs: Any) -> float:
    if timeout_secs is None:
        return DEFAULT_PEER_TIMEOUT_SECS
    value = _validation.check_number("timeout_secs", timeout_secs, minimum=0.0)
    if math.isnan(value):
        raise ValueError(
            _validation.invalid(
                "timeout_secs", timeout_secs, "a number >= 0 (or math.inf)"
            )
        )
    return float(value)


def wait_for_peers(timeout_secs: float | None = None) -> None:
    """Waits, in Python, until every other task of TF_CONFIG's cluster is up.

    Call it before creating `tf.distribute.MultiWorkerMirroredStrategy`
    (`km.flags.strategy_from_flags` does): while it waits, SIGTERM and
    Ctrl-C end the process with a log line naming the tasks still missing,
    and after `timeout_secs` it raises. Without it the strategy's creation
    waits in TensorFlow's C++, where only SIGKILL ends it. Every task of the
    job must call it (see the module docstring for why); without TF_CONFIG,
    with a one-task cluster or on an evaluator it returns at once.

    Args:
      timeout_secs: how long to wait; None: `DEFAULT_PEER_TIMEOUT_SECS`
        (300); 0: do not wait (leave the waiting to TensorFlow); `math.inf`:
        no limit.

    Raises:
      TypeError: `timeout_secs` is not a number.
      ValueError: `timeout_secs` is negative, or TF_CONFIG is invalid.
      PeerWaitTimeoutError: (a `TimeoutError`) some task did not start in
        time; the message names them (`worker:1 (127.0.0.1:2223)`), the
        timeout and how to change it.
      KeyboardInterrupt: Ctrl-C while waiting (after a log line naming the
        missing tasks).
    """
    timeout_secs = _check_timeout(timeout_secs)
    this, leader, others = _cluster()
    if this is None or not others or timeout_secs == 0:
        return
    try:
        beacon = _Beacon(this.host_port[1])
    except OSError as error:
        logging.warning(
            "Not waiting for the cluster's other tasks in Python: cannot "
            "listen on this task's port %s (%s). If a "
            "MultiWorkerMirroredStrategy exists already, wait_for_peers "
            "comes too late: call it before creating the strategy.",
            this.address,
            error,
        )
        return
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN or previous is None:
            previous = None
        else:
            signal.signal(signal.SIGTERM, _raise_terminated)
    progress = _Progress(_listing(others))
    try:
        _wait(this, leader, others, timeout_secs, progress)
    except _Terminated:
        missing = progress.waiting_for
        logging.error(
            "SIGTERM while waiting for the other tasks of the cluster in "
            "TF_CONFIG; still missing: %s. Exiting.",
            missing,
        )
        beacon.close()
        signal.signal(signal.SIGTERM, previous)
        previous = None
        signal.raise_signal(signal.SIGTERM)  # as the signal would have
        raise PeerWaitInterruptedError(
            f"SIGTERM while waiting for the other tasks of the cluster in "
            f"TF_CONFIG; still missing: {missing}."
        ) from None
    except KeyboardInterrupt:
        logging.error(
            "Interrupted while waiting for the other tasks of the cluster "
            "in TF_CONFIG; still missing: %s.",
            progress.waiting_for,
        )
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        beacon.close()


@dataclasses.dataclass
class _Progress:
    """What the wait is waiting for (as of the last round of probes)."""

    waiting_for: str


def _wait(
    this: Task,
    leader: Task | None,
    others: list[Task],
    timeout_secs: float,
    progress: _Progress,
) -> None:
    """Polls until done (see the module docstring) or `timeout_secs`."""
    is_leader = leader is None or leader == this
    start = time.monotonic()
    logged_at = None
    while True:
        states = {task: _probe(task) for task in others}
        absent = [t for t in others if states[t] == "absent"]
        if is_leader:
            done = not absent
        else:
            done = states[leader] == "started"
        if done:
            if logged_at is not None:
                logging.info(
                    "All %d tasks of the cluster are up (after %.1f s).",
                    len(others) + 1,
                    time.monotonic() - start,
                )
            return
        waiting_for = _listing(absent) if absent else str(leader)
        progress.waiting_for = waiting_for
        elapsed = time.monotonic() - start
        if elapsed >= timeout_secs:
            raise PeerWaitTimeoutError(
                f"{this} gave up after {timeout_secs:g} s waiting for the "
                f"other tasks of the cluster in TF_CONFIG; still missing: "
                f"{waiting_for}. Start every task of the cluster (each with "
                "its own TF_CONFIG task), check their addresses, or wait "
                f"longer: {_HOW_TO_CHANGE}."
            )
        if logged_at is None:
            logging.info(
                "%s is waiting for the other tasks of the cluster in "
                "TF_CONFIG (up to %g s; %s): %s.",
                this,
                timeout_secs,
                _HOW_TO_CHANGE,
                waiting_for,
            )
            logged_at = elapsed
        elif elapsed - logged_at >= _LOG_EVERY_SECS:
            logging.info(
                "%s still waiting after %.0f s for: %s.",
                this,
                elapsed,
                waiting_for,
            )
            logged_at = elapsed
        time.sleep(min(_POLL_SECS, max(timeout_secs - elapsed, 0.0)))
