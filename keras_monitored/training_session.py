"""MonitoredTrainingSession: TF1's factory for a training session with the
standard checkpoint, summary and step-counter hooks on the chief."""

from __future__ import annotations

import signal
from typing import Any, Iterable

import tensorflow as tf

from keras_monitored import _roles as roles
from keras_monitored import _validation
from keras_monitored._checkpoint_directory import check_writable_directory
from keras_monitored._eager_guard import check_eager
from keras_monitored._session_options import SessionOptions
from keras_monitored.hook_driver import hook_group
from keras_monitored.hooks.checkpoint_saver import CheckpointSaverHook
from keras_monitored.hooks.step_counter import StepCounterHook
from keras_monitored.hooks.summary_saver import SummarySaverHook
from keras_monitored.monitored_session import MonitoredSession
from keras_monitored.scaffold import as_scaffold
from keras_monitored.session_creator import (
    ChiefSessionCreator,
    WorkerSessionCreator,
)


class _UseDefault:
    """Sentinel: "use TF1's default for this argument"."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_DEFAULT"


USE_DEFAULT = _UseDefault()


def _resolve_every(
    steps: Any,
    secs: Any,
    default_steps: int | None,
    default_secs: float | None,
    steps_name: str,
    secs_name: str,
) -> tuple[int | None, float | None]:
    """TF1's USE_DEFAULT rules for a (steps, secs) pair of arguments."""
    if steps is USE_DEFAULT and secs is USE_DEFAULT:
        steps, secs = default_steps, default_secs
    elif secs is USE_DEFAULT:
        secs = None
    elif steps is USE_DEFAULT:
        steps = None
    steps = _validation.check_int(steps_name, steps, allow_none=True)
    secs = _validation.check_number(secs_name, secs, allow_none=True)
    if steps is not None and secs is not None and steps > 0 and secs > 0:
        raise ValueError(
            _validation.tf1_message(
                "Can not provide both every_secs and every_steps.",
                **{steps_name: steps, secs_name: secs},
            )
        )
    return steps, secs


def _positive(value: float | None) -> float | None:
    """None for a disabled (None or <= 0) interval."""
    return value if value is not None and value > 0 else None


def MonitoredTrainingSession(  # pylint: disable=invalid-name
    master: str = "",
    is_chief: bool | None = None,
    checkpoint_dir: str | None = None,
    scaffold: Any = None,
    hooks: Iterable[Any] | None = None,
    chief_only_hooks: Iterable[Any] | None = None,
    save_checkpoint_secs: Any = USE_DEFAULT,
    save_summaries_steps: Any = USE_DEFAULT,
    save_summaries_secs: Any = USE_DEFAULT,
    config: Any = None,
    stop_grace_period_secs: float = 120,
    log_step_count_steps: int | None = 100,
    max_wait_secs: float = 7200,
    save_checkpoint_steps: Any = USE_DEFAULT,
    summary_dir: str | None = None,
    save_graph_def: bool = True,
    *,
    strategy: tf.distribute.Strategy | None = None,
    steps_per_loop: int = 1,
    max_to_keep: int | None = 5,
    async_checkpoint: bool = False,
    checkpoint_input: bool = False,
    preemption_signals: tuple[Any, ...] = (signal.SIGTERM,),
) -> MonitoredSession:
    """Creates a `MonitoredSession` for training, with TF1's defaults.

    On the chief the hooks run in TF1's order: `chief_only_hooks`, then the
    defaults (`StepCounterHook` every `log_step_count_steps`,
    `SummarySaverHook` every `save_summaries_steps`/`secs` into `summary_dir`
    (default: `checkpoint_dir`), `CheckpointSaverHook` every
    `save_checkpoint_secs`/`steps` into `checkpoint_dir`), then `hooks`.
    Checkpoints default to every 600 seconds, summaries to every 100 steps;
    giving only one of a steps/secs pair disables the other. A non-chief
    (outside a collective strategy) runs only `hooks`, as in TF1.

    Args:
      master: TF1 compatibility (TPU address under TPUStrategy).
      is_chief: this process's role; None derives it from the strategy's
        cluster resolver / TF_CONFIG (no cluster: chief).
      checkpoint_dir: where checkpoints are restored from and saved to.
      scaffold: a `km.Scaffold` (what to checkpoint, the global step).
      hooks: `SessionRunHook`s for every task.
      chief_only_hooks: `SessionRunHook`s for the chief only.
      save_checkpoint_secs: checkpoint every N seconds (default 600).
      save_summaries_steps: summaries every N steps (default 100).
      save_summaries_secs: summaries every N seconds.
      config: a `tf.compat.v1.ConfigProto`; thread settings are applied.
      stop_grace_period_secs: see `MonitoredSession`.
      log_step_count_steps: log and summarise global_step/sec every N steps.
      max_wait_secs: how long a worker waits for the chief's checkpoint.
      save_checkpoint_steps: checkpoint every N steps.
      summary_dir: where summaries go (default: `checkpoint_dir`).
      save_graph_def: TF1 compatibility (TF2 has no graph to write).
      strategy: the `tf.distribute.Strategy` (default: the current one).
      steps_per_loop: the most steps one `run` call may execute.
      max_to_keep: how many checkpoints to keep.
      async_checkpoint: write checkpoints in the background (training goes
        on while the files are written; listeners' `after_save` runs once
        they are complete).
      checkpoint_input: save the `tf.data` iterators fed to `run` with each
        checkpoint, so a restarted program's input resumes at the next
        element.
      preemption_signals: signals that preempt the session: the step in
        progress finishes, the chief saves at that step, `should_stop()`
        and `preempted` become True; `()` turns it off.

    Returns:
      A `MonitoredSession`.

    Raises:
      ValueError: both steps and secs given for checkpoints or summaries, or
        an out-of-range value.
      TypeError: an argument of the wrong type.
      RuntimeError: eager execution is off (a `tf.Graph` is the default
        graph, or `disable_v2_behavior()` was called).

    Example:

    ```python
    with km.MonitoredTrainingSession(
            checkpoint_dir="/tmp/run", save_checkpoint_steps=100,
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(model=m)),
            hooks=[km.hooks.StopAtStepHook(last_step=1000)]) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": iterator})
    ```
    """
    check_eager("km.MonitoredTrainingSession")
    # Checked here too: the directories are probed before the session is.
    _validation.check_number(
        "stop_grace_period_secs", stop_grace_period_secs, minimum=0
    )
    save_summaries_steps, save_summaries_secs = _resolve_every(
        save_summaries_steps,
        save_summaries_secs,
        100,
        None,
        "save_summaries_steps",
        "save_summaries_secs",
    )
    save_checkpoint_steps, save_checkpoint_secs = _resolve_every(
        save_checkpoint_steps,
        save_checkpoint_secs,
        None,
        600,
        "save_checkpoint_steps",
        "save_checkpoint_secs",
    )
    if is_chief is not None:
        _validation.check_bool("is_chief", is_chief)
    checkpoint_dir = _validation.check_optional_dir(
        "checkpoint_dir", checkpoint_dir
    )
    summary_dir = (
        _validation.check_optional_dir("summary_dir", summary_dir)
        or checkpoint_dir
    )
    log_step_count_steps = _validation.check_int(
        "log_step_count_steps", log_step_count_steps, allow_none=True
    )
    _validation.check_number("max_wait_secs", max_wait_secs, minimum=0)
    _validation.check_bool("save_graph_def", save_graph_def)
    scaffold = as_scaffold(scaffold)
    # Groups keep each hook's state key the same on the chief and on workers.
    hooks = hook_group(hooks, name="hooks")
    chief_only_hooks = hook_group(
        chief_only_hooks,
        name="chief_only_hooks",
        state_key_prefix="chief_only/",
    )
    options = SessionOptions.checked(
        strategy=strategy,
        steps_per_loop=steps_per_loop,
        max_to_keep=max_to_keep,
        async_checkpoint=async_checkpoint,
        checkpoint_input=checkpoint_input,
        preemption_signals=preemption_signals,
    ).resolved()
    strategy = options.strategy
    if roles.is_collective(strategy) and any(
        isinstance(h, CheckpointSaverHook) for h in chief_only_hooks
    ):
        raise ValueError(
            "Invalid value for argument `chief_only_hooks`: a CheckpointSaverHook "
            "in chief_only_hooks under a collective strategy would save on the "
            "chief alone while saving needs every worker. Put it in `hooks`: "
            "only the chief writes its files, the others save to scratch."
        )

    checkpoint_hooks = hook_group(
        default_checkpoint_hooks(
            scaffold=scaffold,
            checkpoint_dir=checkpoint_dir,
            save_checkpoint_steps=save_checkpoint_steps,
            save_checkpoint_secs=save_checkpoint_secs,
            save_graph_def=save_graph_def,
        ),
        state_key_prefix="default/",
    )
    if not roles.resolve_is_chief(is_chief, strategy):
        creator = WorkerSessionCreator(
            scaffold=scaffold,
            master=master,
            config=config,
            max_wait_secs=max_wait_secs,
            checkpoint_dir=checkpoint_dir,
            options=options,
        )
        # TF1: a worker runs only `hooks`. Under a collective strategy every
        # worker must also take part in each checkpoint save.
        worker_hooks = [hooks]
        if roles.is_collective(strategy):
            worker_hooks.insert(0, checkpoint_hooks)
        return MonitoredSession(
            session_creator=creator,
            hooks=worker_hooks,
            stop_grace_period_secs=stop_grace_period_secs,
        )

    summary_hooks = hook_group(
        default_summary_hooks(
            scaffold=scaffold,
            summary_dir=summary_dir,
            log_step_count_steps=log_step_count_steps,
            save_summaries_steps=save_summaries_steps,
            save_summaries_secs=save_summaries_secs,
        ),
        state_key_prefix="default/",
    )
    all_hooks = [chief_only_hooks, summary_hooks, checkpoint_hooks, hooks]
    creator = ChiefSessionCreator(
        scaffold=scaffold,
        master=master,
        config=config,
        checkpoint_dir=checkpoint_dir,
        options=options,
    )
    # Refused now, naming the argument, rather than by a hook's first write.
    if checkpoint_hooks.hooks:
        check_writable_directory("checkpoint_dir", checkpoint_dir)
    if summary_hooks.hooks and summary_dir != checkpoint_dir:
        check_writable_directory("summary_dir", summary_dir)
    return MonitoredSession(
        session_creator=creator,
        hooks=all_hooks,
        stop_grace_period_secs=stop_grace_period_secs,
    )


def default_summary_hooks(
    *,
    scaffold: Any,
    summary_dir: str | None,
    log_step_count_steps: int | None,
    save_summaries_steps: int | None,
    save_summaries_secs: float | None,
) -> list[Any]:
    """TF1's default StepCounterHook and SummarySaverHook (chief only)."""
    default_hooks: list[Any] = []
    if not summary_dir:
        return default_hooks
    if log_step_count_steps and log_step_count_steps > 0:
        default_hooks.append(
            StepCounterHook(
                output_dir=summary_dir, every_n_steps=log_step_count_steps
            )
        )
    save_summaries_steps = _positive(save_summaries_steps)
    save_summaries_secs = _positive(save_summaries_secs)
    if save_summaries_steps or save_summaries_secs:
        default_hooks.append(
            SummarySaverHook(
                scaffold=scaffold,
                save_steps=save_summaries_steps,
                save_secs=save_summaries_secs,
                output_dir=summary_dir,
            )
        )
    return default_hooks


def default_checkpoint_hooks(
    *,
    scaffold: Any,
    checkpoint_dir: str | None,
    save_checkpoint_steps: int | None,
    save_checkpoint_secs: float | None,
    save_graph_def: bool,
) -> list[Any]:
    """TF1's default CheckpointSaverHook (every worker under a collective
    strategy, where the non-chief ones save to scratch directories)."""
    save_checkpoint_steps = _positive(save_checkpoint_steps)
    save_checkpoint_secs = _positive(save_checkpoint_secs)
    if not checkpoint_dir or not (
        save_checkpoint_steps or save_checkpoint_secs
    ):
        return []
    return [
        CheckpointSaverHook(
            checkpoint_dir,
            save_steps=save_checkpoint_steps,
            save_secs=save_checkpoint_secs,
            scaffold=scaffold,
            save_graph_def=save_graph_def,
        )
    ]
