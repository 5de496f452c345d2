"""Step time blocked per checkpoint save, synchronous vs async_checkpoint=True,
side by side in one run (interleaved rounds).

    python benchmarks/async_checkpoint.py [--rounds 15] [--save_steps 40]

Two sessions train the same Keras model (variables ~11 MB, plus Adam's two
slots per variable: ~33 MB per checkpoint), one saving synchronously, one
with `async_checkpoint=True`, every `--save_steps` steps. A round runs one
save interval (and 10 steps past the save) in each session in turn.
Blocked time of a save = wall time of the `run` call that saved minus the
round's median step before it. Also reported: the extra time of the step
after the save, and of the save plus the 10 steps after it -- the whole
cost on this machine, where the background write competes with training
for the CPUs (and, on a CPU, TF copies a variable's buffer when a step
first updates it after an async save read it).

Target: async blocks <= 10% of the sync time (median of per-round ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import logging  # noqa: E402

import keras_monitored as km  # noqa: E402
from benchmarks import common  # noqa: E402

TARGET = 0.10
# Steps timed after each save, by when the background write has ended.
AFTER = 10
BLOCKED_KEYS = ("blocked", "after_save_extra", "total_extra", "normal_step")


def make_session(directory: str, async_checkpoint: bool, save_steps: int):
    """A long-lived session training a ~11 MB MLP with Adam; its global
    step is the optimizer's own iterations (two sessions in one process)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((512,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(256),
        ]
    )
    optimizer = keras.optimizers.Adam(1e-4)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(32, 512)).astype("float32"))
    y = tf.constant(rng.normal(size=(32, 256)).astype("float32"))

    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    optimizer.build(model.trainable_variables)
    session = km.MonitoredTrainingSession(
        checkpoint_dir=directory,
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer),
            global_step=optimizer.iterations,
        ),
        save_checkpoint_steps=save_steps,
        save_summaries_steps=None,
        log_step_count_steps=None,
        max_to_keep=2,
        async_checkpoint=async_checkpoint,
    )
    for _ in range(3):  # compile, warm up
        session.run(train_step)
    megabytes = sum(v.numpy().nbytes for v in model.weights) / 2**20
    return session, train_step, optimizer, megabytes


def one_interval(session, train_step, optimizer, save_steps: int) -> dict:
    """Runs steps up to the next save and `AFTER` steps past it (the
    background write ends among them); times each `run`."""
    start = int(optimizer.iterations.numpy())
    save_at = (start // save_steps + 1) * save_steps
    times = {}
    for step in range(start + 1, save_at + AFTER + 1):
        began = time.perf_counter()
        session.run(train_step)
        times[step] = time.perf_counter() - began
    normal = statistics.median(t for s, t in times.items() if s < save_at)
    after = [times[s] - normal for s in range(save_at + 1, save_at + AFTER + 1)]
    return {
        "normal_step": normal,
        "blocked": times[save_at] - normal,
        "after_save_extra": after[0],
        "total_extra": times[save_at] - normal + sum(after),
    }


class CheckpointSuite:
    """The runner's `checkpoint` suite: one save interval per round in a
    sync and an async session, in a rotating order.

    Args:
      save_steps: steps between saves.
    """

    name = "checkpoint"
    title = (
        "Checkpoint saves: time blocked, synchronous vs async_checkpoint=True"
    )

    def __init__(self, save_steps: int = 40):
        self.save_steps = save_steps
        self.sessions: dict[str, Any] = {}
        self.rounds: dict[str, list[dict]] = {"sync": [], "async": []}
        self.megabytes = 0.0
        self._root = ""

    def build(self) -> None:
        self._root = tempfile.mkdtemp(prefix="km_async_bench_")
        for name in self.rounds:
            self.sessions[name] = make_session(
                os.path.join(self._root, name),
                name == "async",
                self.save_steps,
            )
        self.megabytes = self.sessions["sync"][3]

    def run_round(self, round_index: int) -> None:
        for name in common.rotated(list(self.rounds), round_index):
            session, step, optimizer, _ = self.sessions[name]
            self.rounds[name].append(
                one_interval(session, step, optimizer, self.save_steps)
            )

    def close(self) -> None:
        for session, *_ in self.sessions.values():
            session.close()
        shutil.rmtree(self._root, ignore_errors=True)

    def result(self) -> dict[str, Any]:
        ratios = [
            a["blocked"] / s["blocked"]
            for s, a in zip(self.rounds["sync"], self.rounds["async"])
        ]
        return {
            "suite": self.name,
            "title": self.title,
            "notes": (
                f"A ~{self.megabytes:.0f} MB MLP trained with Adam (a "
                f"{3 * self.megabytes:.0f} MB checkpoint), saving every "
                f"{self.save_steps} steps. Blocked = wall time of the run "
                "call that saved minus the round's median step; 'after' = "
                f"extra time of the save plus the {AFTER} steps after it "
                "(the background write competes for the same CPUs)."
            ),
            "checkpoint_mb": 3 * self.megabytes,
            "save_steps": self.save_steps,
            "systems": {
                name: {
                    key: statistics.median(r[key] for r in rows)
                    for key in BLOCKED_KEYS
                }
                | {"rounds": rows}
                for name, rows in self.rounds.items()
            },
            "ratios": {
                "async/sync": {
                    "system": "async",
                    "baseline": "sync",
                    "kind": "blocked time",
                }
                | common.ratio_stats(ratios)
            },
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--save_steps", type=int, default=40)
    args = parser.parse_args()
    logging.set_verbosity(logging.WARNING)
    root = tempfile.mkdtemp(prefix="km_async_bench_")
    sessions = {
        "sync": make_session(
            os.path.join(root, "sync"), False, args.save_steps
        ),
        "async": make_session(
            os.path.join(root, "async"), True, args.save_steps
        ),
    }
    megabytes = sessions["sync"][3]
    rounds: dict[str, list[dict]] = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, (session, step, optimizer, _) in sessions.items():
            rounds[name].append(
                one_interval(session, step, optimizer, args.save_steps)
            )
    for session, *_ in sessions.values():
        session.close()
    shutil.rmtree(root, ignore_errors=True)

    ratios = [
        a["blocked"] / s["blocked"]
        for s, a in zip(rounds["sync"], rounds["async"])
    ]
    ratio = statistics.median(ratios)
    results = {
        name: {
            key: statistics.median(r[key] for r in rows) for key in BLOCKED_KEYS
        }
        | {"rounds": rows}
        for name, rows in rounds.items()
    }
    result = {
        "benchmark": "async_checkpoint",
        "target": f"async blocked time per save <= {TARGET:.0%} of sync",
        "model_variables_mb": round(megabytes, 2),
        "checkpoint_mb": round(3 * megabytes, 2),  # + Adam's m and v
        "save_steps": args.save_steps,
        "blocked_ratio_async_to_sync": ratio,
        "per_round_ratios": ratios,
        "meets_target": ratio <= TARGET,
        "results": results,
        "machine": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpus": os.cpu_count(),
        },
    }
    os.makedirs(common.RESULTS, exist_ok=True)
    with open(os.path.join(common.RESULTS, "async_checkpoint.json"), "w") as f:
        json.dump(result, f, indent=2)

    print(
        f"\nasync_checkpoint  ({megabytes:.1f} MB of variables, "
        f"{3 * megabytes:.1f} MB per checkpoint with Adam's slots; "
        f"target: async <= {TARGET:.0%} of sync)"
    )
    print(
        f"{'':<8}{'blocked ms':>12}{'next step +ms':>15}"
        f"{f'{AFTER} steps +ms':>15}{'step ms':>10}"
    )
    for name, row in results.items():
        print(
            f"{name:<8}{row['blocked'] * 1e3:>12.2f}"
            f"{row['after_save_extra'] * 1e3:>15.2f}"
            f"{row['total_extra'] * 1e3:>15.2f}"
            f"{row['normal_step'] * 1e3:>10.2f}"
        )
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"\nasync/sync blocked time: {ratio:.3f} ({verdict} <= {TARGET})")


if __name__ == "__main__":
    main()
