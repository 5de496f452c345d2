"""ParameterServerStrategy with real processes: 1 chief + 2 workers + 1 ps
on 127.0.0.1, the same binary in every role (tests/programs/ps_train.py).
The chief's monitored session schedules steps on the workers."""

from __future__ import annotations

import glob
import os
import re
import threading

import pytest
import tensorflow as tf

from tests.ps_cluster import REPO, Cluster, wait_for_line


@pytest.fixture
def cluster(tmp_path):
    made = Cluster(tmp_path)
    yield made
    made.close()


def chief_flags(tmp_path, max_steps, *extra):
    return (
        f"--checkpoint_dir={tmp_path / 'ckpt'}",
        f"--trace_file={tmp_path / 'trace.txt'}",
        f"--max_steps={max_steps}",
        *extra,
    )


def kill_mid_run(cluster, tmp_path, max_steps, task, after_step):
    """Starts the chief, SIGKILLs `task` once the TF1 hook traced
    `after_step`, and waits for the chief to end; returns the chief and a
    list holding its output."""
    chief = cluster.chief(*chief_flags(tmp_path, max_steps))
    output = []
    reader = threading.Thread(
        target=lambda: output.append(chief.communicate()[0]), daemon=True
    )
    reader.start()
    wait_for_line(
        tmp_path / "trace.txt", lambda line: int(line.split()[0]) >= after_step
    )
    cluster.kill(*task)
    reader.join(timeout=100)
    assert not reader.is_alive(), f"the chief hung after {task} was killed"
    return chief, output


def trace(tmp_path):
    with open(tmp_path / "trace.txt") as handle:
        return [
            (int(step), float(loss))
            for step, loss in (line.split() for line in handle)
        ]


def summary_steps(directory, tag):
    steps = []
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(steps)


def test_chief_trains_on_workers_with_hooks_then_resumes(cluster, tmp_path):
    code, output = cluster.run_chief(*chief_flags(tmp_path, 200))
    assert code == 0, output[-5000:]
    assert "start global_step=0" in output
    assert "done global_step=200" in output
    # StopAtStepHook stopped at its last step; the final checkpoint holds it.
    latest = tf.train.latest_checkpoint(str(tmp_path / "ckpt"))
    assert latest.endswith("model.ckpt-200")
    reader = tf.train.load_checkpoint(latest)
    assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 200
    # The TF1-style hook fetched the loss on its steps: it went down.
    lines = trace(tmp_path)
    assert [step for step, _ in lines] == list(range(10, 201, 10))
    assert lines[-1][1] < lines[0][1] / 4
    # Summaries come from the chief: the loss every 25 steps, steps/sec.
    ckpt = str(tmp_path / "ckpt")
    loss_steps = summary_steps(ckpt, "loss")
    assert loss_steps == list(range(1, 200, 25))
    assert summary_steps(ckpt, "global_step/sec")
    # LoggingTensorHook logged from the chief.
    assert re.search(r"loss = [\d.]+, step = 1\b", output)
    # No worker or ps wrote files of its own.
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["ckpt", "trace.txt", "worker0.log", "worker1.log", "ps0.log"]
    )

    code, output = cluster.run_chief(*chief_flags(tmp_path, 300))
    assert code == 0, output[-5000:]
    assert "start global_step=200" in output
    assert "done global_step=300" in output
    assert [step for step, _ in trace(tmp_path)][-1] == 300

    # An iterator made on the chief cannot be read on the workers.
    code, output = cluster.run_chief(
        *chief_flags(tmp_path, 400), "--feed=iterator"
    )
    assert code != 0
    assert "feed_dict['batch'] is an iterator made on the coordinator" in output
    assert "Feed the tf.data.Dataset itself" in output

    # A checkpoint that leaves the model out is refused before any step, as
    # under every other strategy.
    code, output = cluster.run_chief(
        f"--checkpoint_dir={tmp_path / 'other'}",
        f"--trace_file={tmp_path / 'other.txt'}",
        "--max_steps=10",
        "--nocheckpoint_model",
    )
    assert code != 0
    assert (
        "updates trainable variables that the session's checkpoint does "
        "not include" in output
    )


def test_a_killed_worker_does_not_stop_the_run(cluster, tmp_path):
    chief, output = kill_mid_run(cluster, tmp_path, 1500, ("worker", 1), 100)
    assert chief.returncode == 0, output[0][-5000:]
    assert "done global_step=1500" in output[0]
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith(
        "model.ckpt-1500"
    )


def test_a_lost_parameter_server_restarts_the_chief_from_its_checkpoint(
    cluster, tmp_path
):
    chief, output = kill_mid_run(cluster, tmp_path, 3000, ("ps", 0), 120)
    assert chief.returncode == 3, output[0][-5000:]
    assert "restart the chief" in output[0]
    saved = tf.train.latest_checkpoint(str(tmp_path / "ckpt"))
    saved_step = int(saved.rsplit("-", 1)[1])
    assert saved_step >= 100

    cluster.start("ps", 0)
    # What a job manager does: restart the chief until it runs. (Right after
    # the ps restart the workers' connections to it may still be backing
    # off; a chief started then loses it again and exits with 3.)
    for _ in range(3):
        code, resumed = cluster.run_chief(*chief_flags(tmp_path, 3000))
        if code != 3:
            break
    assert code == 0, resumed[-5000:]
    assert f"start global_step={saved_step}" in resumed
    assert "done global_step=3000" in resumed


def test_the_example_binary_runs_as_each_of_the_three_roles(tmp_path):
    example = Cluster(
        tmp_path, program=os.path.join(REPO, "examples", "train.py")
    )
    try:
        code, output = example.run_chief(
            f"--checkpoint_dir={tmp_path / 'ckpt'}", "--max_steps=150"
        )
    finally:
        example.close()
    assert code == 0, output[-5000:]
    assert "start global_step=0" in output
    assert "done global_step=150" in output
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith(
        "model.ckpt-150"
    )
    # km.expose works on the workers: LoggingTensorHook logs the exposed
    # gradient norm.
    assert re.search(r"grad_norm = [\d.]+, loss = [\d.]+, step = 101", output)
    # The in-step tf.summary call cannot be recorded on a worker: said once.
    assert (
        output.count("tf.summary calls inside the step are not recorded") == 1
    )


@pytest.mark.parametrize(
    "error, lost",
    [
        (
            tf.errors.UnavailableError(
                None,
                None,
                "failed to connect\nAdditional GRPC error information from "
                "remote target /job:ps/replica:0/task:0/device:CPU:0",
            ),
            True,
        ),
        # A step's own errors, even when the op ran on a ps task.
        (
            tf.errors.InvalidArgumentError(
                None,
                None,
                "indices[0] = 7 is not in [0, 3) [/job:ps/replica:0/task:0]",
            ),
            False,
        ),
        (tf.errors.OutOfRangeError(None, None, "End of sequence"), False),
        (tf.errors.UnavailableError(None, None, "a worker went away"), False),
    ],
)
def test_only_a_lost_parameter_server_asks_for_a_restart(error, lost):
    from keras_monitored import _ps_session

    assert _ps_session._is_ps_failure(error) is lost
