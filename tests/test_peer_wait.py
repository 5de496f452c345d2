"""A multi-worker task waiting for missing peers (km.distribute.wait_for_peers,
called by km.flags.strategy_from_flags) can be stopped with SIGTERM or
Ctrl-C, and gives up after --peer_timeout_secs naming the missing task.
Real worker processes on 127.0.0.1."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import portpicker
import pytest

import keras_monitored as km

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAITING = "is waiting for the other tasks of the cluster"

# Stands in for a worker: waits for its peers, then listens on its port as
# TensorFlow's server would (answering nothing) until told to stop.
STAND_IN = """
import os, socket, sys, time
from absl import logging
import keras_monitored as km
logging.set_verbosity(logging.INFO)
km.distribute.wait_for_peers(timeout_secs=60)
print("passed", time.time(), flush=True)
port = int(sys.argv[1])
server = socket.create_server(("", port))
while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
"""


def tf_config(ports, index, job="worker"):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps(
        {"cluster": cluster, "task": {"type": job, "index": index}}
    )


def start(args, log, ports, index=0):
    env = dict(
        os.environ,
        PYTHONPATH=REPO,
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_CONFIG=tf_config(ports, index),
    )
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def wait_for_text(process, log, text, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} first:\n{output[-3000:]}")
        time.sleep(0.1)
    process.kill()
    process.wait()
    pytest.fail(f"no {text!r} in time:\n{log.read_text()[-3000:]}")


def lone_worker(tmp_path, *flags):
    """Worker 0 of a two-worker cluster whose worker 1 never starts."""
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    log = tmp_path / "worker0.log"
    program = os.path.join(REPO, "tests", "programs", "mwms_wait.py")
    return start([program, *flags], log, ports), log, ports


@pytest.mark.parametrize(
    "signal_number, what",
    [
        (signal.SIGTERM, "SIGTERM while waiting"),
        (signal.SIGINT, "Interrupted while waiting"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_waiting_worker_stops_on_a_signal(tmp_path, signal_number, what):
    process, log, ports = lone_worker(tmp_path)
    try:
        wait_for_text(process, log, WAITING)
        sent = time.monotonic()
        process.send_signal(signal_number)
        process.wait(timeout=10)
        assert time.monotonic() - sent < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert process.returncode != 0, output[-3000:]
    missing = f"worker:1 (127.0.0.1:{ports[1]})"
    assert f"{what} for the other tasks" in output and missing in output, (
        output[-3000:]
    )
    assert "created " not in output  # it never went on to TensorFlow's wait
    if signal_number == signal.SIGTERM:
        # Ended as SIGTERM ends a process: no traceback.
        assert process.returncode == -signal.SIGTERM
        assert "Traceback" not in output, output[-3000:]


def test_a_waiting_worker_gives_up_after_the_timeout(tmp_path):
    process, log, ports = lone_worker(tmp_path, "--peer_timeout_secs=3")
    try:
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert process.returncode == 1, output[-3000:]
    assert "PeerWaitTimeoutError" in output
    assert re.search(
        rf"worker:0 \(127\.0\.0\.1:{ports[0]}\) gave up after 3 s waiting "
        rf".*still missing: worker:1 \(127\.0\.0\.1:{ports[1]}\)\. ",
        output,
    ), output[-3000:]
    assert "--peer_timeout_secs=N" in output
    assert "wait_for_peers(timeout_secs=N)" in output


def test_three_tasks_go_on_only_once_the_last_one_is_up(tmp_path):
    """Worker 2 comes late: neither the leader (worker 0) nor worker 1 go
    on before it is up; then all three do."""
    ports = [portpicker.pick_unused_port() for _ in range(3)]
    stop = tmp_path / "stop"
    processes = []
    try:
        for index in range(3):
            log = tmp_path / f"stand_in_{index}.log"
            processes.append(
                start(
                    ["-c", STAND_IN, str(ports[index]), str(stop)],
                    log,
                    ports,
                    index,
                )
            )
            if index == 1:
                for early in range(2):
                    wait_for_text(
                        processes[early],
                        tmp_path / f"stand_in_{early}.log",
                        WAITING,
                    )
                time.sleep(2)
                for early in range(2):
                    text = (tmp_path / f"stand_in_{early}.log").read_text()
                    assert "passed" not in text, text[-3000:]
                    assert f"worker:2 (127.0.0.1:{ports[2]})" in text
                late = time.time()
        passed = [
            float(
                wait_for_text(
                    process, tmp_path / f"stand_in_{index}.log", "passed"
                )
                .split("passed ")[1]
                .split()[0]
            )
            for index, process in enumerate(processes)
        ]
        assert all(t > late for t in passed)
        stop.touch()
        for process in processes:
            assert process.wait(timeout=30) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# -- in-process: arguments, and nothing to wait for -------------------------


def test_no_cluster_or_zero_timeout_returns_at_once(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    km.distribute.wait_for_peers()
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    monkeypatch.setenv("TF_CONFIG", tf_config(ports, 0))
    began = time.monotonic()
    km.distribute.wait_for_peers(timeout_secs=0)
    monkeypatch.setenv("TF_CONFIG", tf_config(ports[:1], 0))
    km.distribute.wait_for_peers()
    assert time.monotonic() - began < 1


def test_a_lone_non_leader_names_the_leader(monkeypatch):
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    monkeypatch.setenv("TF_CONFIG", tf_config(ports, 1))
    with pytest.raises(
        km.distribute.PeerWaitTimeoutError,
        match=rf"worker:1 \(127\.0\.0\.1:{ports[1]}\) gave up after 0\.5 s .*"
        rf"still missing: worker:0 \(127\.0\.0\.1:{ports[0]}\)",
    ):
        km.distribute.wait_for_peers(timeout_secs=0.5)


@pytest.mark.parametrize(
    "value, error",
    [(-1, ValueError), (math.nan, ValueError), ("60", TypeError)],
)
def test_bad_timeouts_name_the_argument(value, error):
    with pytest.raises(error, match=r"timeout_secs="):
        km.distribute.wait_for_peers(timeout_secs=value)
