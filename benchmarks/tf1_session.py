"""TF1's own `tf.compat.v1.train.MonitoredTrainingSession` in graph mode on a
benchmark workload: the system km re-implements, as a reference.

    python -m benchmarks.tf1_session --workload W1 --steps 1000 --json
    python -m benchmarks.tf1_session --workload W1 --serve

It runs in a process of its own (graph mode must not touch the eager
systems). The graph computes what `workloads.training` does in TF2 (the
same layers, Glorot-uniform weights, MSE, SGD 0.01) and the session runs
TF1's default hooks (a `checkpoint_dir`: StepCounterHook and
SummarySaverHook every 100 steps, CheckpointSaverHook every 600 s) plus
LoggingTensorHook (every 100) and NanTensorHook, as km's session does.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from typing import Any

import tensorflow as tf

from benchmarks import workers, workloads
from benchmarks.workloads import Workload

v1 = tf.compat.v1
LOOP = 100


def _variable(name: str, shape: tuple[int, ...], fan: tuple[int, int]):
    limit = (6.0 / sum(fan)) ** 0.5
    return v1.get_variable(
        name, shape, initializer=v1.random_uniform_initializer(-limit, limit)
    )


def _dense(x, units: int, name: str, relu: bool):
    width = int(x.shape[-1])
    kernel = _variable(f"{name}/kernel", (width, units), (width, units))
    bias = v1.get_variable(
        f"{name}/bias", (units,), initializer=v1.zeros_initializer()
    )
    y = tf.matmul(x, kernel) + bias
    return tf.nn.relu(y) if relu else y


def _conv(x, filters: int, name: str):
    channels = int(x.shape[-1])
    kernel = _variable(
        f"{name}/kernel", (3, 3, channels, filters), (9 * channels, 9 * filters)
    )
    bias = v1.get_variable(
        f"{name}/bias", (filters,), initializer=v1.zeros_initializer()
    )
    return tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "VALID") + bias)


def graph_model(workload: Workload, x):
    """The workload's model as TF1 graph ops."""
    if workload.name == "W1":
        return _dense(_dense(x, 64, "d0", True), 1, "d1", False)
    if workload.name == "W2":
        for i in range(3):
            x = _dense(x, 512, f"d{i}", True)
        return _dense(x, 10, "d3", False)
    x = _conv(_conv(x, 16, "c0"), 32, "c1")
    x = tf.nn.max_pool2d(x, 2, 2, "VALID")
    x = tf.reshape(x, (workload.batch_size, -1))
    return _dense(x, 10, "d0", False)


class Tf1Session:
    """A built TF1 graph and its monitored session, kept open across
    measurements (as a training job keeps it)."""

    def __init__(self, workload: Workload):
        self.directory = tempfile.mkdtemp(prefix="km_bench_tf1_")
        self.graph = tf.Graph()
        with self.graph.as_default():
            global_step = v1.train.get_or_create_global_step()
            batch = v1.data.make_one_shot_iterator(
                workloads.dataset(workload)
            ).get_next()
            x, y = batch
            loss = tf.reduce_mean((graph_model(workload, x) - y) ** 2)
            self.train_op = v1.train.GradientDescentOptimizer(0.01).minimize(
                loss, global_step=global_step
            )
            self.global_step = global_step
            hooks = [
                v1.train.LoggingTensorHook({"loss": loss}, every_n_iter=LOOP),
                v1.train.NanTensorHook(loss),
            ]
            self.session = v1.train.MonitoredTrainingSession(
                checkpoint_dir=self.directory, hooks=hooks
            )
        self.session.run(self.train_op)  # warm up

    def measure(self, steps: int) -> dict[str, Any]:
        """Trains `steps` steps; returns their wall time."""
        train_op, run = self.train_op, self.session.run
        began = time.perf_counter()
        for _ in range(steps):
            run(train_op)
        seconds = time.perf_counter() - began
        return {"steps": steps, "seconds": seconds}

    def close(self) -> float:
        """Closes the session; returns the seconds `close()` took."""
        began = time.perf_counter()
        self.session.close()
        seconds = time.perf_counter() - began
        shutil.rmtree(self.directory, ignore_errors=True)
        return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(workloads.WORKLOADS))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    v1.disable_eager_execution()
    v1.logging.set_verbosity(v1.logging.WARN)
    session = Tf1Session(workloads.WORKLOADS[args.workload])
    if args.serve:
        workers.serve(session.measure)
        session.close()
        return
    result = session.measure(args.steps)
    result["close_seconds"] = session.close()
    if args.json:
        workers.emit(result)
    else:
        print(
            f"TF1 MonitoredTrainingSession, {args.workload}: "
            f"{result['steps'] / result['seconds']:.1f} steps/s"
        )


if __name__ == "__main__":
    main()
