"""absl flags for training binaries: define them, pick the strategy, build the
session.

    from absl import app
    from keras_monitored import flags as km_flags

    km_flags.define_flags()

    def main(argv):
        strategy = km_flags.strategy_from_flags()
        with strategy.scope():
            model = ...
        with km_flags.session_from_flags(scaffold=...) as sess:
            while not sess.should_stop():
                sess.run(train_step, feed_dict={"batch": iterator})

    app.run(main)

An unset flag means TF1's USE_DEFAULT, so `--save_checkpoint_steps=100`
alone switches checkpoints from every 600 seconds to every 100 steps.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any, Iterable

import tensorflow as tf
from absl import flags

from keras_monitored import distribute
from keras_monitored.hooks.stop_at_step import StopAtStepHook
from keras_monitored.training_session import (
    USE_DEFAULT,
    MonitoredTrainingSession,
)

FLAGS = flags.FLAGS

STRATEGIES = (
    "auto",
    "default",
    "one_device",
    "mirrored",
    "multi_worker_mirrored",
    "tpu",
)

_STRING_FLAGS = {
    "checkpoint_dir": "Directory for checkpoints (restored on start, saved while training).",
    "summary_dir": "Directory for TensorBoard summaries (default: --checkpoint_dir).",
    "tpu": "TPU name or grpc:// address (implies --strategy=tpu under auto).",
}
_INT_FLAGS = {
    # name: (help, lower bound)
    "max_steps": ("Global step to stop at (StopAtStepHook(last_step=...)).", 1),
    "save_checkpoint_steps": (
        "Checkpoint every N global steps (default: every 600 s).",
        1,
    ),
    "save_summaries_steps": (
        "Write summaries every N global steps (default: 100).",
        1,
    ),
    "log_step_count_steps": (
        "Log global_step/sec every N global steps (default: 100; 0: off).",
        0,
    ),
    "keep_checkpoint_max": ("How many checkpoints to keep (default: 5).", 1),
}
_FLOAT_FLAGS = {
    "save_checkpoint_secs": "Checkpoint every N seconds (TF1's default: 600).",
}

# Strategies made by strategy_from_flags, per flag set: a process may create
# MultiWorkerMirroredStrategy (and connect to a TPU) only once.
_strategies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """Defines km's training flags in `flag_values` (idempotent).

    Flags: --checkpoint_dir --summary_dir --max_steps --save_checkpoint_steps
    --save_checkpoint_secs --save_summaries_steps --log_step_count_steps
    --keep_checkpoint_max --steps_per_loop --strategy --tpu.

    Args:
      flag_values: where to define them (tests pass a fresh
        `flags.FlagValues()`).
    """
    if "steps_per_loop" in flag_values:
        return
    for name, help_text in _STRING_FLAGS.items():
        flags.DEFINE_string(name, None, help_text, flag_values=flag_values)
    for name, (help_text, lower) in _INT_FLAGS.items():
        flags.DEFINE_integer(
            name, None, help_text, lower_bound=lower, flag_values=flag_values
        )
    for name, help_text in _FLOAT_FLAGS.items():
        flags.DEFINE_float(
            name, None, help_text, lower_bound=0.0, flag_values=flag_values
        )
    flags.DEFINE_integer(
        "steps_per_loop",
        1,
        "Most steps per session.run call (one tf.function call).",
        lower_bound=1,
        flag_values=flag_values,
    )
    flags.DEFINE_enum(
        "strategy",
        "auto",
        STRATEGIES,
        "tf.distribute strategy. auto: tpu with --tpu, multi_worker_mirrored when "
        "TF_CONFIG names more than one task, mirrored with more than one GPU, else default.",
        flag_values=flag_values,
    )
    flags.register_multi_flags_validator(
        ["save_checkpoint_steps", "save_checkpoint_secs"],
        lambda v: (
            v["save_checkpoint_steps"] is None
            or v["save_checkpoint_secs"] is None
        ),
        message="--save_checkpoint_steps and --save_checkpoint_secs are exclusive: give one.",
        flag_values=flag_values,
    )
    flags.register_validator(
        "save_checkpoint_secs",
        lambda v: v is None or v > 0,
        message="--save_checkpoint_secs must be > 0.",
        flag_values=flag_values,
    )
    flags.register_multi_flags_validator(
        ["strategy", "tpu"],
        lambda v: v["tpu"] is None or v["strategy"] in ("auto", "tpu"),
        message="--tpu is only used with --strategy=tpu (or auto).",
        flag_values=flag_values,
    )


def _cluster_tasks(environ: Any = None) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster") or {}
    except ValueError:
        return 0
    return sum(
        len(tasks)
        for name, tasks in cluster.items()
        if name in ("chief", "worker")
    )


def strategy_name(flag_values: flags.FlagValues = FLAGS) -> str:
    """The strategy `--strategy` asks for, with `auto` resolved."""
    name = flag_values.strategy
    if name != "auto":
        return name
    if flag_values.tpu is not None:
        return "tpu"
    if _cluster_tasks() > 1:
        return "multi_worker_mirrored"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def strategy_from_flags(
    flag_values: flags.FlagValues = FLAGS,
) -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` the flags ask for (made once per process).

    Args:
      flag_values: parsed flags defined by `define_flags`.

    Returns:
      The strategy; create the model and optimizer under its `scope()`.
    """
    name = strategy_name(flag_values)
    key = (name, flag_values.tpu)
    made = _strategies.setdefault(flag_values, {})
    strategy = made.get(key)
    if strategy is None:
        if name == "default":
            strategy = tf.distribute.get_strategy()
        elif name == "one_device":
            gpus = tf.config.list_logical_devices("GPU")
            strategy = tf.distribute.OneDeviceStrategy(
                gpus[0].name if gpus else "/cpu:0"
            )
        elif name == "mirrored":
            strategy = tf.distribute.MirroredStrategy()
        elif name == "multi_worker_mirrored":
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        else:
            strategy = distribute.tpu_strategy(flag_values.tpu or "")
        made[key] = strategy
    return strategy


def _or_default(value: Any) -> Any:
    return USE_DEFAULT if value is None else value


def session_from_flags(
    scaffold: Any = None,
    hooks: Iterable[Any] | None = None,
    chief_only_hooks: Iterable[Any] | None = None,
    flag_values: flags.FlagValues = FLAGS,
    *,
    strategy: tf.distribute.Strategy | None = None,
) -> Any:
    """A `MonitoredTrainingSession` configured by the flags.

    Adds `StopAtStepHook(last_step=--max_steps)` when `--max_steps` is set.

    Args:
      scaffold: a `km.Scaffold`.
      hooks: hooks for every task.
      chief_only_hooks: hooks for the chief only.
      flag_values: parsed flags defined by `define_flags`.
      strategy: the strategy (default: the one `strategy_from_flags` made).

    Returns:
      A `km.MonitoredSession`.
    """
    hooks = list(hooks or [])
    if flag_values.max_steps is not None:
        hooks.append(StopAtStepHook(last_step=flag_values.max_steps))
    return MonitoredTrainingSession(
        checkpoint_dir=flag_values.checkpoint_dir,
        summary_dir=flag_values.summary_dir,
        scaffold=scaffold,
        hooks=hooks,
        chief_only_hooks=chief_only_hooks,
        save_checkpoint_steps=_or_default(flag_values.save_checkpoint_steps),
        save_checkpoint_secs=_or_default(flag_values.save_checkpoint_secs),
        save_summaries_steps=_or_default(flag_values.save_summaries_steps),
        log_step_count_steps=100
        if flag_values.log_step_count_steps is None
        else flag_values.log_step_count_steps,
        steps_per_loop=flag_values.steps_per_loop,
        max_to_keep=flag_values.keep_checkpoint_max or 5,
        strategy=strategy
        if strategy is not None
        else strategy_from_flags(flag_values),
    )
