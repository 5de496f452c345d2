"""The tasks of a parameter-server job: servers for `worker` and `ps`
tasks, the strategy for the `chief` (the coordinator).

TF1 started a `tf.train.Server` in every task and placed variables with
`replica_device_setter`. In TF2 the `worker` and `ps` tasks only run a
server (`tf.distribute.Server`); the `chief` builds a
`tf.distribute.ParameterServerStrategy`, creates the variables under its
scope (they land on the `ps` tasks) and runs the monitored session, which
schedules the steps on the workers.
"""

from __future__ import annotations

import os

import tensorflow as tf
from absl import logging

from keras_monitored import _roles as roles

# The tasks that only serve: they run no training program of their own.
SERVING_TASKS = ("worker", "ps")


def _fail_fast() -> None:
    # TF's advice for parameter-server jobs: RPCs to a lost task fail at
    # once (the coordinator reschedules) instead of waiting for it.
    os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")


def has_parameter_servers() -> bool:
    """True when TF_CONFIG's cluster has `ps` tasks.

    Raises:
      ValueError: TF_CONFIG is not valid JSON.
    """
    _, _, cluster = roles.task_from_tf_config()
    return bool(cluster.get("ps"))


def run_server() -> None:
    """Runs this task's server if TF_CONFIG makes it a `worker` or `ps` task
    of a parameter-server job (a cluster with `ps` tasks); returns at once
    otherwise (the chief, a single process, or a MultiWorkerMirrored
    worker).

    A server task never returns: it serves until its process is stopped.

    Raises:
      ValueError: TF_CONFIG is not valid JSON.
    """
    task_type, task_id, cluster = roles.task_from_tf_config()
    if not cluster.get("ps") or task_type not in SERVING_TASKS:
        return
    _fail_fast()
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(
        resolver.cluster_spec(),
        job_name=task_type,
        task_index=task_id,
        protocol=resolver.rpc_layer or "grpc",
        start=True,
    )
    logging.info(
        "Parameter-server job: %s:%d serves at %s until stopped (the chief "
        "schedules the steps).",
        task_type,
        task_id,
        server.target,
    )
    server.join()


def parameter_server_strategy() -> tf.distribute.ParameterServerStrategy:
    """The chief's `ParameterServerStrategy` for TF_CONFIG's cluster.

    Raises:
      ValueError: see `check_chief`.
    """
    check_chief()
    _fail_fast()
    return tf.distribute.ParameterServerStrategy(
        tf.distribute.cluster_resolver.TFConfigClusterResolver()
    )


def check_chief() -> None:
    """Checks that this task can create the job's ParameterServerStrategy.

    Raises:
      ValueError: TF_CONFIG has no `ps` tasks, or this task is not the
        chief (workers and parameter servers run `run_server()`).
    """
    task_type, task_id, cluster = roles.task_from_tf_config()
    if not cluster.get("ps"):
        raise ValueError(
            "--strategy=parameter_server needs a TF_CONFIG whose cluster has "
            f"'ps' tasks (and a 'chief'). Received cluster: {cluster}."
        )
    if task_type != "chief":
        raise ValueError(
            f"This task is {task_type}:{task_id}; under ParameterServerStrategy "
            "only the 'chief' task runs the training program. Call "
            "km.flags.run_server() at the start of main: on worker and ps "
            "tasks it serves and never returns."
        )
