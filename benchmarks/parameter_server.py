"""ParameterServerStrategy throughput: steps/s with 1 and 2 workers, and what
hook triggers cost (a LoggingTensorHook fetching every step vs every 100).

Real processes on 127.0.0.1: for each cluster size, `ps` and `worker` tasks
serve (this file, run with TF_CONFIG naming them); the chief (this file
too) runs a km.MonitoredTrainingSession scheduling the example model's
steps on the workers, and prints its rate. Rounds are interleaved: every
round runs every configuration once, in a rotating order; ratios are per
round against the round's "1 worker, log every 100" run.

    python benchmarks/parameter_server.py --rounds 3 --steps 1500

On a 2-core machine the chief, the workers and the ps share two cores, so
a second worker cannot add compute; the numbers say what the machinery
costs, not how it scales on real hardware.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {
    "1 worker, log every 100": (1, 100),
    "2 workers, log every 100": (2, 100),
    "2 workers, log every step": (2, 1),
}
BASELINE = "1 worker, log every 100"


def _chief(steps: int, log_every: int, steps_per_loop: int) -> None:
    """The chief's side: train `steps` steps, print the rate as JSON."""
    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from absl import logging  # pylint: disable=import-outside-toplevel

    sys.path.insert(0, REPO)
    import keras_monitored as km  # pylint: disable=import-outside-toplevel
    from examples.common import (  # pylint: disable=import-outside-toplevel
        build_model,
        synthetic_dataset,
    )
    from keras_monitored import _ps_cluster  # pylint: disable=import-outside-toplevel

    logging.set_verbosity(logging.WARNING)
    strategy = _ps_cluster.parameter_server_strategy()
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(0.01)
    dataset = synthetic_dataset(32)

    def train_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    warmup = 50
    with km.MonitoredTrainingSession(
        strategy=strategy,
        steps_per_loop=steps_per_loop,
        save_summaries_steps=None,
        log_step_count_steps=None,
        hooks=[
            km.StopAtStepHook(last_step=warmup + steps),
            km.hooks.LoggingTensorHook(
                {"loss": "loss"}, every_n_iter=log_every
            ),
        ],
    ) as sess:
        for _ in range(warmup):
            outputs = sess.run(train_step, feed_dict={"batch": dataset})
        outputs.fetch()  # waits for the last warm-up step
        start = time.perf_counter()
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": dataset})
    seconds = time.perf_counter() - start  # including the final join
    print(json.dumps({"steps": steps, "seconds": seconds}), flush=True)


class _Cluster:
    """Serving `worker` and `ps` tasks for one cluster size."""

    def __init__(self, workers: int):
        import portpicker  # pylint: disable=import-outside-toplevel

        def port():
            return f"127.0.0.1:{portpicker.pick_unused_port()}"

        self.spec = {
            "chief": [port()],
            "worker": [port() for _ in range(workers)],
            "ps": [port()],
        }
        self.processes = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve"],
                env=self.env(task, index),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for task, count in (("worker", workers), ("ps", 1))
            for index in range(count)
        ]

    def env(self, task: str, index: int) -> dict:
        return dict(
            os.environ,
            PYTHONPATH=REPO,
            TF_CPP_MIN_LOG_LEVEL="2",
            TF_CONFIG=json.dumps(
                {"cluster": self.spec, "task": {"type": task, "index": index}}
            ),
        )

    def run_chief(
        self, steps: int, log_every: int, steps_per_loop: int
    ) -> float:
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--chief",
                f"--steps={steps}",
                f"--log_every={log_every}",
                f"--steps_per_loop={steps_per_loop}",
            ],
            env=self.env("chief", 0),
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        return result["steps"] / result["seconds"]

    def close(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--steps_per_loop", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chief", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log_every", type=int, default=100, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--out", default=os.path.join(REPO, "benchmarks", "results")
    )
    args = parser.parse_args()
    if args.serve:
        sys.path.insert(0, REPO)
        from keras_monitored import _ps_cluster  # pylint: disable=import-outside-toplevel

        _ps_cluster.run_server()
        return
    if args.chief:
        _chief(args.steps, args.log_every, args.steps_per_loop)
        return
    clusters = {1: _Cluster(1), 2: _Cluster(2)}
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    try:
        names = list(CONFIGS)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                workers, log_every = CONFIGS[name]
                rates[name].append(
                    clusters[workers].run_chief(
                        args.steps, log_every, args.steps_per_loop
                    )
                )
                print(
                    f"round {round_index}: {name}: {rates[name][-1]:.1f} steps/s",
                    flush=True,
                )
    finally:
        for cluster in clusters.values():
            cluster.close()
    result = {
        "benchmark": "parameter_server",
        "baseline": BASELINE,
        "steps": args.steps,
        "steps_per_loop": args.steps_per_loop,
        "rounds": args.rounds,
        "loadavg": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "results": {
            name: {
                "median_steps_per_second": statistics.median(values),
                "steps_per_second": values,
                "median_rate_ratio_to_baseline": statistics.median(
                    value / base for value, base in zip(values, rates[BASELINE])
                ),
            }
            for name, values in rates.items()
        },
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "parameter_server.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    for name, row in result["results"].items():
        print(
            f"{name:<28}{row['median_steps_per_second']:>10.1f} steps/s"
            f"{row['median_rate_ratio_to_baseline']:>8.3f}x"
        )


if __name__ == "__main__":
    main()
