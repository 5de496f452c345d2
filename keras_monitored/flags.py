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

import weakref
from typing import Any, Iterable

import tensorflow as tf
from absl import flags

from keras_monitored import _flag_definitions, _validation, distribute
from keras_monitored import _ps_cluster as ps_cluster
from keras_monitored import _roles as roles
from keras_monitored._checkpoint_directory import (
    UnusableDirectoryError,
    check_writable_directory,
)
from keras_monitored.hook_list import HookList
from keras_monitored.hooks.stop_at_step import StopAtStepHook
from keras_monitored.training_session import (
    USE_DEFAULT,
    MonitoredTrainingSession,
)

# The flags km defines are the calling binary's: `--help` lists them with
# its own (absl attributes a flag to the first module not disclaiming).
flags.disclaim_key_flags()

FLAGS = flags.FLAGS

STRATEGIES = _flag_definitions.STRATEGIES

# Strategies made by strategy_from_flags, per flag set: a process may create
# MultiWorkerMirroredStrategy (and connect to a TPU) only once.
_strategies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def define_flags(
    flag_values: flags.FlagValues = FLAGS, *, exclude: Iterable[str] = ()
) -> None:
    """Defines km's training flags in `flag_values` (idempotent).

    Flags: --checkpoint_dir --summary_dir --max_steps --save_checkpoint_steps
    --save_checkpoint_secs --save_summaries_steps --log_step_count_steps
    --keep_checkpoint_max --steps_per_loop --async_checkpoint
    --checkpoint_input --strategy --tpu --peer_timeout_secs.

    A flag the program already defines under one of these names is reused
    when it fits (a string flag for --checkpoint_dir, --summary_dir, --tpu;
    an integer flag for --max_steps and the other step counts; an integer or
    float flag for --save_checkpoint_secs; a boolean flag for
    --async_checkpoint and --checkpoint_input; a string or enum --strategy whose default is one of
    `STRATEGIES`), instead of absl's `DuplicateFlagError`.

    Args:
      flag_values: where to define them (tests pass a fresh
        `flags.FlagValues()`).
      exclude: names to leave out, e.g. `("max_steps",)` for a program whose
        own --max_steps means something else; `strategy_from_flags` and
        `session_from_flags` treat them as unset.

    Raises:
      TypeError: `exclude` is not an iterable of names.
      ValueError: `exclude` names a flag km does not define (or differs from
        an earlier call's); or the program's own flag of a km name does not
        fit (the message suggests `exclude`).

    Example:

    ```python
    flags.DEFINE_string("checkpoint_dir", "/tmp/run", "Where to save.")
    km_flags.define_flags(exclude=("tpu",))  # reuses --checkpoint_dir
    ```
    """
    _check_flag_values(flag_values)
    _flag_definitions.define(
        flag_values, _flag_definitions.check_exclude(exclude)
    )


def _check_flag_values(flag_values: Any) -> None:
    if not isinstance(flag_values, flags.FlagValues):
        raise TypeError(
            _validation.invalid(
                "flag_values",
                flag_values,
                "an absl flags.FlagValues (flags.FLAGS by default)",
            )
        )


def strategy_name(flag_values: flags.FlagValues = FLAGS) -> str:
    """The strategy `--strategy` asks for, with `auto` resolved.

    Raises:
      ValueError: a strategy km does not know (the program's own
        --strategy flag may allow more), or --tpu with another strategy.
    """
    name = _value(flag_values, "strategy") or "auto"
    tpu = _value(flag_values, "tpu")
    if name not in STRATEGIES:
        raise ValueError(
            f"Invalid value for flag --strategy. Received: {name!r}. Expected "
            f"one of {', '.join(STRATEGIES)}."
        )
    if tpu is not None and name not in ("auto", "tpu"):
        raise ValueError(
            f"--tpu={tpu!r} is only used with --strategy=tpu (or auto); "
            f"received --strategy={name}."
        )
    if name != "auto":
        return name
    if tpu is not None:
        return "tpu"
    if ps_cluster.has_parameter_servers():
        return "parameter_server"
    if roles.cluster_tasks() > 1:
        return "multi_worker_mirrored"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def strategy_from_flags(
    flag_values: flags.FlagValues = FLAGS,
) -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` the flags ask for (made once per process).

    Args:
      flag_values: parsed flags defined by `define_flags` (an excluded
        --strategy means auto, an excluded --tpu no TPU).

    Returns:
      The strategy; create the model and optimizer under its `scope()`.

    Raises:
      ValueError: see `strategy_name`.
      keras_monitored.distribute.PeerWaitTimeoutError: multi_worker_mirrored
        and parameter_server only: the cluster's other tasks did not all
        start within --peer_timeout_secs (see
        `km.distribute.wait_for_peers`).
    """
    name = strategy_name(flag_values)
    tpu = _value(flag_values, "tpu")
    key = (name, tpu)
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
            # In Python, where SIGTERM, Ctrl-C and a timeout can end it.
            distribute.wait_for_peers(_value(flag_values, "peer_timeout_secs"))
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        elif name == "parameter_server":
            ps_cluster.check_chief()
            distribute.wait_for_peers(_value(flag_values, "peer_timeout_secs"))
            strategy = ps_cluster.parameter_server_strategy()
        else:
            strategy = distribute.tpu_strategy(tpu or "")
        made[key] = strategy
    return strategy


def run_server() -> None:
    """Serves, and never returns, on the `worker` and `ps` tasks of a
    parameter-server job; returns at once on any other task.

    Call it first thing in `main`: TF1 programs started a
    `tf.train.Server` in every task; under TF2's ParameterServerStrategy the
    `worker` and `ps` tasks only serve (the chief schedules the steps on
    them), so one binary runs as any of the three roles from TF_CONFIG.

    Raises:
      ValueError: TF_CONFIG is not valid JSON.
    """
    ps_cluster.run_server()


def _default_if_unset(value: Any, default: Any) -> Any:
    return default if value is None else value


def _or_default(value: Any) -> Any:
    return USE_DEFAULT if value is None else value


def _value(flag_values: flags.FlagValues, name: str) -> Any:
    """A km flag's value; None when `define_flags` excluded it."""
    return _flag_definitions.value(flag_values, name)


def _count(flag_values: flags.FlagValues, name: str, minimum: int) -> Any:
    """An integer flag's value, checked again: the program's own flag of a
    km name keeps its own bounds, which may allow what km cannot use.

    Raises:
      ValueError: below `minimum`, naming the flag.
    """
    value = _value(flag_values, name)
    if value is not None and value < minimum:
        raise ValueError(
            f"flag --{name}={value}: keras_monitored needs an integer >= "
            f"{minimum} here (the program's own --{name} flag allowed it)."
        )
    return value


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
    A flag `define_flags` excluded counts as unset (TF1's USE_DEFAULT).

    Args:
      scaffold: a `km.Scaffold`.
      hooks: hooks for every task.
      chief_only_hooks: hooks for the chief only.
      flag_values: parsed flags defined by `define_flags`.
      strategy: the strategy (default: the one `strategy_from_flags` made).

    Returns:
      A `km.MonitoredSession`.

    Raises:
      TypeError: `flag_values` is not a FlagValues, or `hooks` is not a list
        of hooks.
      ValueError: `define_flags` was not called for `flag_values`, or a flag
        holds a value km cannot use (a program's own --max_steps=0).
    """
    _check_flag_values(flag_values)
    hooks = list(HookList(hooks, name="hooks").hooks)
    max_steps = _count(flag_values, "max_steps", 1)
    if max_steps is not None:
        hooks.append(StopAtStepHook(last_step=max_steps))
    log_step_count_steps = _value(flag_values, "log_step_count_steps")
    try:
        return _session(
            flag_values,
            scaffold=scaffold,
            hooks=hooks,
            chief_only_hooks=chief_only_hooks,
            log_step_count_steps=log_step_count_steps,
            strategy=strategy,
        )
    except UnusableDirectoryError as error:
        # A directory from a flag: say which flag.
        raise error.for_flag() from error.__cause__


def _session(
    flag_values: flags.FlagValues,
    *,
    scaffold: Any,
    hooks: list[Any],
    chief_only_hooks: Any,
    log_step_count_steps: int | None,
    strategy: tf.distribute.Strategy | None,
) -> Any:
    return MonitoredTrainingSession(
        checkpoint_dir=_value(flag_values, "checkpoint_dir"),
        summary_dir=_value(flag_values, "summary_dir"),
        scaffold=scaffold,
        hooks=hooks,
        chief_only_hooks=chief_only_hooks,
        save_checkpoint_steps=_or_default(
            _value(flag_values, "save_checkpoint_steps")
        ),
        save_checkpoint_secs=_or_default(
            _value(flag_values, "save_checkpoint_secs")
        ),
        save_summaries_steps=_or_default(
            _value(flag_values, "save_summaries_steps")
        ),
        log_step_count_steps=100
        if log_step_count_steps is None
        else log_step_count_steps,
        steps_per_loop=_default_if_unset(
            _count(flag_values, "steps_per_loop", 1), 1
        ),
        max_to_keep=_default_if_unset(
            _count(flag_values, "keep_checkpoint_max", 1), 5
        ),
        async_checkpoint=bool(_value(flag_values, "async_checkpoint")),
        checkpoint_input=bool(_value(flag_values, "checkpoint_input")),
        strategy=strategy
        if strategy is not None
        else strategy_from_flags(flag_values),
    )


def check_directories(flag_values: flags.FlagValues = FLAGS) -> None:
    """Creates --checkpoint_dir and --summary_dir (those set) and checks
    they can be written, for a binary that builds its own hooks (`model.fit`
    with `km.HookCallback`); `session_from_flags` does it by itself.

    Raises:
      PermissionError: a directory cannot be created or written; the message
        names the flag and the path.
    """
    _check_flag_values(flag_values)
    for name in ("checkpoint_dir", "summary_dir"):
        directory = _value(flag_values, name)
        if directory:
            try:
                check_writable_directory(name, directory)
            except UnusableDirectoryError as error:
                raise error.for_flag() from error.__cause__
