"""A worker that makes its strategy with km.flags.strategy_from_flags
(so it waits for the cluster's other tasks in Python first), then runs one
all-reduce across the workers and prints its result.

    TF_CONFIG=... python tests/programs/mwms_wait.py --peer_timeout_secs=3
"""

from __future__ import annotations

from absl import app

from keras_monitored import flags as km_flags

km_flags.define_flags()


def main(argv):
    del argv
    import tensorflow as tf

    strategy = km_flags.strategy_from_flags()
    print(f"created {type(strategy).__name__}", flush=True)
    task = strategy.cluster_resolver.task_id
    value = strategy.reduce(
        tf.distribute.ReduceOp.SUM,
        strategy.run(lambda: tf.constant(float(task + 1))),
        axis=None,
    )
    print(f"all-reduced {float(value)}", flush=True)


if __name__ == "__main__":
    app.run(main)
