"""Bad input to every public entry point: one table.

Each case makes one bad call and says what must come out of it: the error
type (TF1's where the contract keeps TF1's) and a message that names the
argument (in backticks, as `name=value`, or as the flag) and shows the value
received. Every case runs in an empty working directory with every
checkpoint_dir / summary_dir / output_dir / --out pointing into it, and the
directory must still be empty afterwards: bad input writes nothing (no
checkpoints, no event files, no staging directories).

A case marked `bug=...` documents a library message that does not meet the
contract yet (the current message is quoted); cases in PENDING are for
arguments a later issue adds, and are expected to fail until then.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import signal
from collections.abc import Callable
from typing import Any

import keras
import pytest
import tensorflow as tf
from absl import flags

import keras_monitored as km
from keras_monitored import flags as km_flags
from migration import cli

# -- what a message must say ---------------------------------------------------


def invalid(name: str, value: Any) -> str:
    """km's form: "Invalid value for argument `x`. Received: x=<repr>."."""
    return re.escape(
        f"Invalid value for argument `{name}`. Received: {name}={value!r}."
    )


def invalid_prefix(name: str, shown: str) -> str:
    """km's form, for a value whose repr holds an address: its start."""
    return re.escape(
        f"Invalid value for argument `{name}`. Received: {name}={shown}"
    )


def tf1(words: str, **received: Any) -> str:
    """TF1's own words, then "Received: a=<repr>, b=<repr>."."""
    shown = ", ".join(f"{name}={value!r}" for name, value in received.items())
    return re.escape(f"{words} Received: {shown}.")


def text(fragment: str) -> str:
    return re.escape(fragment)


# -- the environment a case runs in --------------------------------------------


class CliUsageError(Exception):
    """km-migrate exited with 2; the message is what it wrote to `err`."""


class Env:
    """The case's empty directory, and the sessions it made (closed after)."""

    def __init__(self, root: str, tf1_prefix: str):
        self.root = root
        self.tf1_prefix = tf1_prefix
        self._sessions: list[Any] = []

    def path(self, name: str) -> str:
        """A path inside the case's directory (nothing is created)."""
        return os.path.join(self.root, name)

    def session(self, **kwargs: Any) -> km.MonitoredSession:
        """A plain MonitoredSession: no directories, so it writes nothing."""
        session = km.MonitoredSession(**kwargs)
        self._sessions.append(session)
        return session

    def stepped_session(self, **kwargs: Any) -> km.MonitoredSession:
        """A session that has run one step returning {'loss': ...}."""
        session = self.session(**kwargs)
        session.run(_loss_step)
        return session

    def close(self) -> None:
        for session in self._sessions:
            _dispose(session)


def _dispose(result: Any) -> None:
    """Closes a session a case made (or one a bad call wrongly returned)."""
    if isinstance(result, km.MonitoredSession):
        with contextlib.suppress(Exception):
            result.close()


# -- steps, hooks and flag helpers the cases use -------------------------------


def _loss_step():
    return {"loss": tf.constant(1.0)}


def _scaled_step(x):
    return {"y": x * 2.0}


_OBJECT = object()


def _object_step():
    return {"loss": tf.constant(1.0), "obj": _OBJECT}


def _expose_int_name():
    km.expose(3, tf.constant(1.0))
    return {}


def _expose_global_step():
    km.expose("global_step", tf.constant(1.0))
    return {}


def _expose_object():
    km.expose("thing", _OBJECT)
    return {}


def _expose_twice():
    km.expose("norm", tf.constant(1.0))
    km.expose("norm", tf.constant(2.0))
    return {}


def _expose_returned_name():
    km.expose("loss", tf.constant(2.0))
    return {"loss": tf.constant(1.0)}


class _FeedsKey(km.SessionRunHook):
    """Feeds `feeds` into every step."""

    def __init__(self, feeds):
        self._feeds = feeds

    def before_run(self, run_context):
        return km.SessionRunArgs(None, feed_dict=self._feeds)


def _two_args(a, b):
    return None


def _parsed(*argv: str, define: Callable[[Any], None] | None = None):
    """Fresh FlagValues with km's flags (after the program's own, if any),
    parsed from `argv`."""
    values = flags.FlagValues()
    if define is not None:
        define(values)
    km_flags.define_flags(values)
    values(["train", *argv])
    return values


def _own_string_strategy(values):
    flags.DEFINE_string(
        "strategy", "auto", "The program's own.", flag_values=values
    )


def _own_integer(name, default):
    def define(values):
        flags.DEFINE_integer(
            name, default, "The program's own.", flag_values=values
        )

    return define


def _define_twice(first, second):
    values = flags.FlagValues()
    km_flags.define_flags(values, exclude=first)
    km_flags.define_flags(values, exclude=second)


def _define_over(define):
    values = flags.FlagValues()
    define(values)
    km_flags.define_flags(values)


def _migrate(*argv: Any) -> Any:
    """km-migrate in-process. Exit code 2 raises CliUsageError with what it
    wrote to `err` (argparse's own usage errors included: a caller passing
    `err` must get them there); anything else is returned."""
    out, err, stray = io.StringIO(), io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stray):
        code = cli.main([str(a) for a in argv], out=out, err=err)
    if code == 2:
        assert out.getvalue() == "", out.getvalue()
        # Only `err` counts: what went to sys.stderr instead is not
        # matched (it is kept on the error for the failure report).
        error = CliUsageError(err.getvalue())
        error.stderr = stray.getvalue()
        raise error
    return (code, out.getvalue(), err.getvalue())


# -- the table -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Env], Any]
    error: type[BaseException]
    match: str  # a regex searched in str(error)
    bug: str | None = None  # the current message, when it misses the contract


C = Case  # short, for the table


_DENSE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "migration",
    "checkpoint_models",
    "dense_models.py",
)
_MODEL = f"{_DENSE}:build_named_dense"
_MTS = km.MonitoredTrainingSession
_STOP = km.hooks.StopAtStepHook


def _mts(e: Env, **kwargs):
    """MonitoredTrainingSession writing (if it ever did) into the case's
    directory: checkpoints and, by default, summaries too."""
    return _MTS(checkpoint_dir=e.path("run"), **kwargs)


CASES = [
    # -- km.MonitoredTrainingSession: every argument ---------------------------
    C(
        "MTS-master-int",
        lambda e: _mts(e, master=5),
        TypeError,
        invalid("master", 5),
    ),
    C(
        "MTS-is_chief-str",
        lambda e: _mts(e, is_chief="yes"),
        TypeError,
        invalid("is_chief", "yes"),
    ),
    C(
        "MTS-checkpoint_dir-int",
        lambda e: _MTS(checkpoint_dir=7),
        TypeError,
        invalid("checkpoint_dir", 7),
    ),
    C(
        "MTS-scaffold-str",
        lambda e: _mts(e, scaffold="scaffold"),
        TypeError,
        invalid("scaffold", "scaffold"),
    ),
    C(
        "MTS-hooks-single-hook",
        lambda e: _mts(e, hooks=_STOP(1)),
        TypeError,
        invalid_prefix(
            "hooks", "<keras_monitored.hooks.stop_at_step.StopAtStepHook object"
        ),
    ),
    C(
        "MTS-hooks-class-not-instance",
        lambda e: _mts(e, hooks=[_STOP]),
        TypeError,
        invalid("hooks[0]", _STOP),
    ),
    C(
        "MTS-hooks-element-int",
        lambda e: _mts(e, hooks=[_STOP(1), 1]),
        TypeError,
        invalid("hooks[1]", 1),
    ),
    C(
        "MTS-chief_only_hooks-str",
        lambda e: _mts(e, chief_only_hooks="hooks"),
        TypeError,
        invalid("chief_only_hooks", "hooks"),
    ),
    C(
        "MTS-save_checkpoint_secs-str",
        lambda e: _mts(e, save_checkpoint_secs="60"),
        TypeError,
        invalid("save_checkpoint_secs", "60"),
    ),
    C(
        "MTS-save_checkpoint-both",
        lambda e: _mts(e, save_checkpoint_secs=60, save_checkpoint_steps=10),
        ValueError,
        tf1(
            "Can not provide both every_secs and every_steps.",
            save_checkpoint_steps=10,
            save_checkpoint_secs=60,
        ),
    ),
    C(
        "MTS-save_checkpoint_steps-float",
        lambda e: _mts(e, save_checkpoint_steps=1.5),
        TypeError,
        invalid("save_checkpoint_steps", 1.5),
    ),
    C(
        "MTS-save_summaries_steps-float",
        lambda e: _mts(e, save_summaries_steps=2.5),
        TypeError,
        invalid("save_summaries_steps", 2.5),
    ),
    C(
        "MTS-save_summaries-both",
        lambda e: _mts(e, save_summaries_steps=10, save_summaries_secs=5),
        ValueError,
        tf1(
            "Can not provide both every_secs and every_steps.",
            save_summaries_steps=10,
            save_summaries_secs=5,
        ),
    ),
    C(
        "MTS-save_summaries_secs-str",
        lambda e: _mts(e, save_summaries_secs="5"),
        TypeError,
        invalid("save_summaries_secs", "5"),
    ),
    C(
        "MTS-config-dict",
        lambda e: _mts(e, config={"threads": 2}),
        TypeError,
        invalid("config", {"threads": 2}),
    ),
    C(
        "MTS-stop_grace_period_secs-negative",
        lambda e: _mts(e, stop_grace_period_secs=-1),
        ValueError,
        invalid("stop_grace_period_secs", -1),
    ),
    C(
        "MTS-log_step_count_steps-str",
        lambda e: _mts(e, log_step_count_steps="100"),
        TypeError,
        invalid("log_step_count_steps", "100"),
    ),
    C(
        "MTS-max_wait_secs-negative",
        lambda e: _mts(e, max_wait_secs=-1),
        ValueError,
        invalid("max_wait_secs", -1),
    ),
    C(
        "MTS-summary_dir-list",
        lambda e: _mts(e, summary_dir=[e.path("events")]),
        TypeError,
        invalid_prefix("summary_dir", "['") + r".*events'\]\.",
    ),
    C(
        "MTS-save_graph_def-str",
        lambda e: _mts(e, save_graph_def="yes"),
        TypeError,
        invalid("save_graph_def", "yes"),
    ),
    C(
        "MTS-strategy-name",
        lambda e: _mts(e, strategy="mirrored"),
        TypeError,
        invalid("strategy", "mirrored"),
    ),
    C(
        "MTS-steps_per_loop-zero",
        lambda e: _mts(e, steps_per_loop=0),
        ValueError,
        invalid("steps_per_loop", 0),
    ),
    C(
        "MTS-steps_per_loop-float",
        lambda e: _mts(e, steps_per_loop=2.0),
        TypeError,
        invalid("steps_per_loop", 2.0),
    ),
    C(
        "MTS-max_to_keep-zero",
        lambda e: _mts(e, max_to_keep=0),
        ValueError,
        invalid("max_to_keep", 0),
    ),
    C(
        "MTS-max_to_keep-str",
        lambda e: _mts(e, max_to_keep="5"),
        TypeError,
        invalid("max_to_keep", "5"),
    ),
    C(
        "MTS-async_checkpoint-int",
        lambda e: _mts(e, async_checkpoint=1),
        TypeError,
        invalid("async_checkpoint", 1),
    ),
    C(
        "MTS-async_checkpoint-str",
        lambda e: _mts(e, async_checkpoint="yes"),
        TypeError,
        invalid("async_checkpoint", "yes"),
    ),
    C(
        "MTS-checkpoint_input-int",
        lambda e: _mts(e, checkpoint_input=1),
        TypeError,
        invalid("checkpoint_input", 1),
    ),
    C(
        "MTS-checkpoint_input-none",
        lambda e: _mts(e, checkpoint_input=None),
        TypeError,
        invalid("checkpoint_input", None),
    ),
    C(
        "MTS-preemption_signals-bare-signal",
        lambda e: _mts(e, preemption_signals=signal.SIGTERM),
        TypeError,
        invalid("preemption_signals", signal.SIGTERM),
    ),
    C(
        "MTS-preemption_signals-set",
        lambda e: _mts(e, preemption_signals={signal.SIGTERM}),
        TypeError,
        invalid("preemption_signals", {signal.SIGTERM}),
    ),
    C(
        "MTS-preemption_signals-names",
        lambda e: _mts(e, preemption_signals=("SIGTERM",)),
        TypeError,
        invalid("preemption_signals", ("SIGTERM",)),
    ),
    C(
        "MTS-preemption_signals-SIGKILL",
        lambda e: _mts(e, preemption_signals=(signal.SIGTERM, signal.SIGKILL)),
        ValueError,
        invalid("preemption_signals", (signal.SIGTERM, signal.SIGKILL))
        + ".*SIGKILL",
    ),
    C(
        "MTS-preemption_signals-SIGSTOP",
        lambda e: _mts(e, preemption_signals=(signal.SIGSTOP,)),
        ValueError,
        invalid("preemption_signals", (signal.SIGSTOP,)) + ".*SIGSTOP",
    ),
    C(
        "MTS-preemption_signals-no-such-number",
        lambda e: _mts(e, preemption_signals=(12345,)),
        ValueError,
        invalid("preemption_signals", (12345,)),
    ),
    # -- km.MonitoredSession ----------------------------------------------------
    C(
        "MonitoredSession-session_creator-str",
        lambda e: km.MonitoredSession(session_creator="chief"),
        TypeError,
        invalid("session_creator", "chief"),
    ),
    C(
        "MonitoredSession-hooks-element-int",
        lambda e: km.MonitoredSession(
            session_creator=km.ChiefSessionCreator(
                checkpoint_dir=e.path("run")
            ),
            hooks=[1],
        ),
        TypeError,
        invalid("hooks[0]", 1),
    ),
    C(
        "MonitoredSession-hooks-str",
        lambda e: km.MonitoredSession(hooks="StopAtStepHook"),
        TypeError,
        invalid("hooks", "StopAtStepHook"),
    ),
    C(
        "MonitoredSession-tf1-StopAtStepHook-negative",
        lambda e: km.MonitoredSession(
            hooks=[tf.compat.v1.train.StopAtStepHook(last_step=-1)]
        ),
        ValueError,
        invalid("last_step", -1),
    ),
    C(
        "MonitoredSession-stop_grace_period_secs-str",
        lambda e: km.MonitoredSession(stop_grace_period_secs="2"),
        TypeError,
        invalid("stop_grace_period_secs", "2"),
    ),
    C(
        "MonitoredSession-stop_grace_period_secs-negative",
        lambda e: km.MonitoredSession(
            session_creator=km.ChiefSessionCreator(
                checkpoint_dir=e.path("run")
            ),
            stop_grace_period_secs=-5,
        ),
        ValueError,
        invalid("stop_grace_period_secs", -5),
    ),
    # -- km.SingularMonitoredSession --------------------------------------------
    C(
        "Singular-hooks-int",
        lambda e: km.SingularMonitoredSession(
            hooks=3, checkpoint_dir=e.path("run")
        ),
        TypeError,
        invalid("hooks", 3),
    ),
    C(
        "Singular-scaffold-int",
        lambda e: km.SingularMonitoredSession(scaffold=1),
        TypeError,
        invalid("scaffold", 1),
    ),
    C(
        "Singular-master-int",
        lambda e: km.SingularMonitoredSession(master=8470),
        TypeError,
        invalid("master", 8470),
    ),
    C(
        "Singular-config-str",
        lambda e: km.SingularMonitoredSession(config="config"),
        TypeError,
        invalid("config", "config"),
    ),
    C(
        "Singular-checkpoint_dir-list",
        lambda e: km.SingularMonitoredSession(checkpoint_dir=["d"]),
        TypeError,
        invalid("checkpoint_dir", ["d"]),
    ),
    C(
        "Singular-checkpoint-both",
        lambda e: km.SingularMonitoredSession(
            checkpoint_dir="a", checkpoint_filename_with_path="b"
        ),
        ValueError,
        tf1(
            "Can not provide both checkpoint_dir and checkpoint_filename_with_path.",
            checkpoint_dir="a",
            checkpoint_filename_with_path="b",
        ),
    ),
    C(
        "Singular-stop_grace_period_secs-negative",
        lambda e: km.SingularMonitoredSession(
            checkpoint_dir=e.path("run"), stop_grace_period_secs=-1
        ),
        ValueError,
        invalid("stop_grace_period_secs", -1),
    ),
    C(
        "Singular-steps_per_loop-negative",
        lambda e: km.SingularMonitoredSession(steps_per_loop=-3),
        ValueError,
        invalid("steps_per_loop", -3),
    ),
    C(
        "Singular-max_to_keep-zero",
        lambda e: km.SingularMonitoredSession(max_to_keep=0),
        ValueError,
        invalid("max_to_keep", 0),
    ),
    # -- km.Scaffold ------------------------------------------------------------
    C(
        "Scaffold-checkpoint-str",
        lambda e: km.Scaffold(checkpoint="model"),
        TypeError,
        invalid("checkpoint", "model"),
    ),
    C(
        "Scaffold-checkpoint-untrackable-item",
        lambda e: km.Scaffold(checkpoint={"m": 3}),
        TypeError,
        invalid("checkpoint", {"m": 3})
        + r".*checkpoint\['m'\] is not trackable",
    ),
    C(
        "Scaffold-checkpoint-non-str-key",
        lambda e: km.Scaffold(checkpoint={1: tf.Variable(1.0)}),
        TypeError,
        invalid_prefix("checkpoint", "{1: <tf.Variable")
        + ".*non-empty string keys",
    ),
    C(
        "Scaffold-global_step-float-variable",
        lambda e: km.Scaffold(global_step=tf.Variable(1.0)),
        TypeError,
        invalid_prefix("global_step", "<tf.Variable") + ".*dtype=float32",
    ),
    C(
        "Scaffold-global_step-vector",
        lambda e: km.Scaffold(global_step=tf.Variable([1, 2], dtype=tf.int64)),
        TypeError,
        invalid_prefix("global_step", "<tf.Variable") + r".*shape=\(2,\)",
    ),
    C(
        "Scaffold-global_step-int",
        lambda e: km.Scaffold(global_step=5),
        TypeError,
        invalid("global_step", 5),
    ),
    C(
        "Scaffold-init_fn-str",
        lambda e: km.Scaffold(init_fn="init"),
        TypeError,
        invalid("init_fn", "init"),
    ),
    C(
        "Scaffold-init_fn-one-argument",
        lambda e: km.Scaffold(init_fn=lambda only_one: None),
        TypeError,
        invalid_prefix("init_fn", "<function"),
    ),
    C(
        "Scaffold-allow_partial_restore-str",
        lambda e: km.Scaffold(allow_partial_restore="yes"),
        TypeError,
        invalid("allow_partial_restore", "yes"),
    ),
    C(
        "Scaffold-allow_partial_restore-int",
        lambda e: km.Scaffold(allow_partial_restore=1),
        TypeError,
        invalid("allow_partial_restore", 1),
    ),
    # -- km.ChiefSessionCreator / km.WorkerSessionCreator ----------------------
    C(
        "ChiefSessionCreator-scaffold-dict",
        lambda e: km.ChiefSessionCreator(scaffold={}),
        TypeError,
        invalid("scaffold", {}),
    ),
    C(
        "ChiefSessionCreator-master-bytes",
        lambda e: km.ChiefSessionCreator(master=b"grpc://x"),
        TypeError,
        invalid("master", b"grpc://x"),
    ),
    C(
        "ChiefSessionCreator-config-object",
        lambda e: km.ChiefSessionCreator(config=_OBJECT),
        TypeError,
        invalid("config", _OBJECT),
    ),
    C(
        "ChiefSessionCreator-checkpoint_dir-int",
        lambda e: km.ChiefSessionCreator(checkpoint_dir=7),
        TypeError,
        invalid("checkpoint_dir", 7),
    ),
    C(
        "ChiefSessionCreator-checkpoint_filename_with_path-int",
        lambda e: km.ChiefSessionCreator(checkpoint_filename_with_path=5),
        TypeError,
        invalid("checkpoint_filename_with_path", 5),
    ),
    C(
        "ChiefSessionCreator-checkpoint-both",
        lambda e: km.ChiefSessionCreator(
            checkpoint_dir="a", checkpoint_filename_with_path="a/model.ckpt-1"
        ),
        ValueError,
        tf1(
            "Can not provide both checkpoint_dir and checkpoint_filename_with_path.",
            checkpoint_dir="a",
            checkpoint_filename_with_path="a/model.ckpt-1",
        ),
    ),
    C(
        "ChiefSessionCreator-strategy-str",
        lambda e: km.ChiefSessionCreator(strategy="default"),
        TypeError,
        invalid("strategy", "default"),
    ),
    C(
        "ChiefSessionCreator-steps_per_loop-zero",
        lambda e: km.ChiefSessionCreator(steps_per_loop=0),
        ValueError,
        invalid("steps_per_loop", 0),
    ),
    C(
        "ChiefSessionCreator-max_to_keep-str",
        lambda e: km.ChiefSessionCreator(max_to_keep="5"),
        TypeError,
        invalid("max_to_keep", "5"),
    ),
    C(
        "WorkerSessionCreator-max_wait_secs-negative",
        lambda e: km.WorkerSessionCreator(max_wait_secs=-5),
        ValueError,
        invalid("max_wait_secs", -5),
    ),
    C(
        "WorkerSessionCreator-max_wait_secs-str",
        lambda e: km.WorkerSessionCreator(max_wait_secs="1"),
        TypeError,
        invalid("max_wait_secs", "1"),
    ),
    C(
        "WorkerSessionCreator-checkpoint_dir-int",
        lambda e: km.WorkerSessionCreator(checkpoint_dir=7),
        TypeError,
        invalid("checkpoint_dir", 7),
    ),
    C(
        "WorkerSessionCreator-master-int",
        lambda e: km.WorkerSessionCreator(master=1),
        TypeError,
        invalid("master", 1),
    ),
    C(
        "WorkerSessionCreator-scaffold-str",
        lambda e: km.WorkerSessionCreator(scaffold="s"),
        TypeError,
        invalid("scaffold", "s"),
    ),
    # -- km.hooks: every constructor -------------------------------------------
    C(
        "StopAtStepHook-neither",
        lambda e: _STOP(),
        ValueError,
        tf1(
            "One of num_steps or last_step must be specified.",
            num_steps=None,
            last_step=None,
        ),
    ),
    C(
        "StopAtStepHook-both",
        lambda e: _STOP(num_steps=5, last_step=10),
        ValueError,
        tf1(
            "Only one of num_steps or last_step can be specified.",
            num_steps=5,
            last_step=10,
        ),
    ),
    C(
        "StopAtStepHook-num_steps-negative",
        lambda e: _STOP(num_steps=-1),
        ValueError,
        invalid("num_steps", -1),
    ),
    C(
        "StopAtStepHook-last_step-str",
        lambda e: _STOP(last_step="1000"),
        TypeError,
        invalid("last_step", "1000"),
    ),
    C(
        "CheckpointSaverHook-neither",
        lambda e: km.hooks.CheckpointSaverHook(e.path("run")),
        ValueError,
        tf1(
            "Either every_secs or every_steps should be provided.",
            save_secs=None,
            save_steps=None,
        ),
    ),
    C(
        "CheckpointSaverHook-save_steps-zero",
        lambda e: km.hooks.CheckpointSaverHook(e.path("run"), save_steps=0),
        ValueError,
        invalid("save_steps", 0),
    ),
    C(
        "CheckpointSaverHook-checkpoint_dir-none",
        lambda e: km.hooks.CheckpointSaverHook(None, save_steps=1),
        TypeError,
        invalid("checkpoint_dir", None),
    ),
    C(
        "CheckpointSaverHook-saver-and-scaffold",
        lambda e: km.hooks.CheckpointSaverHook(
            e.path("run"),
            save_steps=1,
            saver=tf.train.Checkpoint(),
            scaffold=km.Scaffold(),
        ),
        ValueError,
        text("You cannot provide both saver and scaffold. Received: saver=<")
        + ".*"
        + text("scaffold=<keras_monitored.scaffold.Scaffold object"),
    ),
    C(
        "CheckpointSaverHook-saver-str",
        lambda e: km.hooks.CheckpointSaverHook(
            e.path("run"), save_steps=1, saver="saver"
        ),
        TypeError,
        invalid("saver", "saver"),
    ),
    C(
        "CheckpointSaverHook-checkpoint_basename-empty",
        lambda e: km.hooks.CheckpointSaverHook(
            e.path("run"), save_steps=1, checkpoint_basename=""
        ),
        ValueError,
        invalid("checkpoint_basename", ""),
    ),
    C(
        "CheckpointSaverHook-listeners-element",
        lambda e: km.hooks.CheckpointSaverHook(
            e.path("run"), save_steps=1, listeners=[_OBJECT]
        ),
        TypeError,
        invalid("listeners[0]", _OBJECT),
    ),
    C(
        "CheckpointSaverHook-listeners-class-not-instance",
        lambda e: km.hooks.CheckpointSaverHook(
            e.path("run"), save_steps=1, listeners=[km.CheckpointSaverListener]
        ),
        TypeError,
        invalid("listeners[0]", km.CheckpointSaverListener),
    ),
    C(
        "LoggingTensorHook-tensors-str",
        lambda e: km.hooks.LoggingTensorHook("loss", every_n_iter=1),
        TypeError,
        invalid("tensors", "loss"),
    ),
    C(
        "LoggingTensorHook-tensors-int",
        lambda e: km.hooks.LoggingTensorHook(3, every_n_iter=1),
        TypeError,
        invalid("tensors", 3),
    ),
    C(
        "LoggingTensorHook-no-trigger",
        lambda e: km.hooks.LoggingTensorHook(["loss"]),
        ValueError,
        tf1(
            "either at_end and/or exactly one of every_n_iter and every_n_secs must be provided.",
            every_n_iter=None,
            every_n_secs=None,
            at_end=False,
        ),
    ),
    C(
        "LoggingTensorHook-every_n_iter-zero",
        lambda e: km.hooks.LoggingTensorHook(["loss"], every_n_iter=0),
        ValueError,
        tf1("invalid every_n_iter=0.", every_n_iter=0),
    ),
    C(
        "LoggingTensorHook-eager-tensor",
        lambda e: km.hooks.LoggingTensorHook(
            {"c": tf.constant(2.0)}, every_n_iter=1
        ),
        TypeError,
        invalid_prefix("tensors", "{'c': <tf.Tensor") + ".*is an eager tensor",
    ),
    C(
        "LoggingTensorHook-formatter-str",
        lambda e: km.hooks.LoggingTensorHook(
            ["loss"], every_n_iter=1, formatter="{loss}"
        ),
        TypeError,
        invalid("formatter", "{loss}"),
    ),
    C(
        "NanTensorHook-loss_tensor-float",
        lambda e: km.hooks.NanTensorHook(0.5),
        TypeError,
        invalid("loss_tensor", 0.5),
    ),
    C(
        "NanTensorHook-fail_on_nan_loss-str",
        lambda e: km.hooks.NanTensorHook("loss", fail_on_nan_loss="no"),
        TypeError,
        invalid("fail_on_nan_loss", "no"),
    ),
    C(
        "StepCounterHook-both",
        lambda e: km.hooks.StepCounterHook(
            every_n_steps=10, every_n_secs=5, output_dir=e.path("events")
        ),
        ValueError,
        tf1(
            "exactly one of every_n_steps and every_n_secs should be provided.",
            every_n_steps=10,
            every_n_secs=5,
        ),
    ),
    C(
        "StepCounterHook-neither",
        lambda e: km.hooks.StepCounterHook(
            every_n_steps=None, output_dir=e.path("events")
        ),
        ValueError,
        tf1(
            "exactly one of every_n_steps and every_n_secs should be provided.",
            every_n_steps=None,
            every_n_secs=None,
        ),
    ),
    C(
        "StepCounterHook-every_n_steps-zero",
        lambda e: km.hooks.StepCounterHook(
            every_n_steps=0, output_dir=e.path("events")
        ),
        ValueError,
        invalid("every_n_steps", 0),
    ),
    C(
        "StepCounterHook-output_dir-int",
        lambda e: km.hooks.StepCounterHook(output_dir=3),
        TypeError,
        invalid("output_dir", 3),
    ),
    C(
        "StepCounterHook-summary_writer-str",
        lambda e: km.hooks.StepCounterHook(
            output_dir=e.path("events"), summary_writer="writer"
        ),
        TypeError,
        invalid("summary_writer", "writer"),
    ),
    C(
        "SummarySaverHook-neither",
        lambda e: km.hooks.SummarySaverHook(output_dir=e.path("events")),
        ValueError,
        tf1(
            "Either every_secs or every_steps should be provided.",
            save_secs=None,
            save_steps=None,
        ),
    ),
    C(
        "SummarySaverHook-scaffold-and-summary_op",
        lambda e: km.hooks.SummarySaverHook(
            save_steps=1,
            output_dir=e.path("events"),
            scaffold=km.Scaffold(),
            summary_op="loss",
        ),
        ValueError,
        text("Exactly one of scaffold or summary_op must be provided.")
        + ".*"
        + text("summary_op='loss'"),
    ),
    C(
        "SummarySaverHook-summary_op-int",
        lambda e: km.hooks.SummarySaverHook(
            save_steps=1, output_dir=e.path("events"), summary_op=3
        ),
        TypeError,
        invalid("summary_op", 3),
    ),
    C(
        "SummarySaverHook-save_secs-negative",
        lambda e: km.hooks.SummarySaverHook(
            save_secs=-1, output_dir=e.path("events")
        ),
        ValueError,
        invalid("save_secs", -1),
    ),
    C(
        "FinalOpsHook-final_ops-int",
        lambda e: km.hooks.FinalOpsHook(42),
        TypeError,
        invalid("final_ops", 42),
    ),
    C(
        "FinalOpsHook-final_ops_feed_dict-list",
        lambda e: km.hooks.FinalOpsHook("loss", final_ops_feed_dict=[1]),
        TypeError,
        invalid("final_ops_feed_dict", [1]),
    ),
    C(
        "FinalOpsHook-on_values-int",
        lambda e: km.hooks.FinalOpsHook("loss", on_values=1),
        TypeError,
        invalid("on_values", 1),
    ),
    C(
        "FeedFnHook-feed_fn-dict",
        lambda e: km.hooks.FeedFnHook({"x": 1}),
        TypeError,
        invalid("feed_fn", {"x": 1}),
    ),
    C(
        "GlobalStepWaiterHook-wait_until_step-str",
        lambda e: km.hooks.GlobalStepWaiterHook("100"),
        TypeError,
        invalid("wait_until_step", "100"),
    ),
    C(
        "GlobalStepWaiterHook-poll_secs-negative",
        lambda e: km.hooks.GlobalStepWaiterHook(
            10, checkpoint_dir=e.path("run"), poll_secs=-1
        ),
        ValueError,
        invalid("poll_secs", -1),
    ),
    C(
        "GlobalStepWaiterHook-checkpoint_dir-int",
        lambda e: km.hooks.GlobalStepWaiterHook(10, checkpoint_dir=1),
        TypeError,
        invalid("checkpoint_dir", 1),
    ),
    C(
        "ProfilerHook-both",
        lambda e: km.hooks.ProfilerHook(
            save_steps=10, save_secs=5, output_dir=e.path("prof")
        ),
        ValueError,
        tf1(
            "Can not provide both every_secs and every_steps.",
            save_secs=5,
            save_steps=10,
        ),
    ),
    C(
        "ProfilerHook-output_dir-none",
        lambda e: km.hooks.ProfilerHook(save_steps=10, output_dir=None),
        TypeError,
        invalid("output_dir", None),
    ),
    C(
        "ProfilerHook-show_memory-str",
        lambda e: km.hooks.ProfilerHook(
            save_steps=10, output_dir=e.path("prof"), show_memory="yes"
        ),
        TypeError,
        invalid("show_memory", "yes"),
    ),
    C(
        "ProgressBarHook-last_step-zero",
        lambda e: km.hooks.ProgressBarHook(last_step=0),
        ValueError,
        invalid("last_step", 0),
    ),
    C(
        "ProgressBarHook-every_n_secs-zero",
        lambda e: km.hooks.ProgressBarHook(every_n_secs=0),
        ValueError,
        invalid("every_n_secs", 0),
    ),
    C(
        "ProgressBarHook-stream-str",
        lambda e: km.hooks.ProgressBarHook(stream="stdout"),
        TypeError,
        invalid("stream", "stdout"),
    ),
    C(
        "SecondOrStepTimer-neither",
        lambda e: km.hooks.SecondOrStepTimer(),
        ValueError,
        tf1(
            "Either every_secs or every_steps should be provided.",
            every_secs=None,
            every_steps=None,
        ),
    ),
    C(
        "SecondOrStepTimer-both",
        lambda e: km.hooks.SecondOrStepTimer(every_secs=1, every_steps=1),
        ValueError,
        tf1(
            "Can not provide both every_secs and every_steps.",
            every_secs=1,
            every_steps=1,
        ),
    ),
    C(
        "SecondOrStepTimer-every_steps-zero",
        lambda e: km.hooks.SecondOrStepTimer(every_steps=0),
        ValueError,
        invalid("every_steps", 0),
    ),
    C(
        "SecondOrStepTimer-clock-float",
        lambda e: km.hooks.SecondOrStepTimer(every_secs=1, clock=0.0),
        TypeError,
        invalid("clock", 0.0),
    ),
    # -- km.HookList ------------------------------------------------------------
    C(
        "HookList-hooks-str",
        lambda e: km.HookList("hooks"),
        TypeError,
        invalid("hooks", "hooks"),
    ),
    # -- km.HookCallback --------------------------------------------------------
    C(
        "HookCallback-hooks-single-hook",
        lambda e: km.HookCallback(
            km.hooks.CheckpointSaverHook(e.path("run"), save_steps=1)
        ),
        TypeError,
        invalid_prefix(
            "hooks",
            "<keras_monitored.hooks.checkpoint_saver.CheckpointSaverHook object",
        ),
    ),
    C(
        "HookCallback-hooks-class-not-instance",
        lambda e: km.HookCallback([_STOP]),
        TypeError,
        invalid("hooks[0]", _STOP),
    ),
    C(
        "HookCallback-hooks-element-str",
        lambda e: km.HookCallback(["loss"]),
        TypeError,
        invalid("hooks[0]", "loss"),
    ),
    C(
        "HookCallback-chief_only_hooks-int",
        lambda e: km.HookCallback(chief_only_hooks=3),
        TypeError,
        invalid("chief_only_hooks", 3),
    ),
    C(
        "HookCallback-is_chief-int",
        lambda e: km.HookCallback(is_chief=1),
        TypeError,
        invalid("is_chief", 1),
    ),
    C(
        "HookCallback-restore-str",
        lambda e: km.HookCallback(
            [km.hooks.CheckpointSaverHook(e.path("run"), save_steps=1)],
            restore="no",
        ),
        TypeError,
        invalid("restore", "no"),
    ),
    C(
        "HookCallback-preemption_signals-SIGKILL",
        lambda e: km.HookCallback(preemption_signals=(signal.SIGKILL,)),
        ValueError,
        invalid("preemption_signals", (signal.SIGKILL,)),
    ),
    # -- km.CallbackHook --------------------------------------------------------
    C(
        "CallbackHook-callbacks-str",
        lambda e: km.CallbackHook("EarlyStopping"),
        TypeError,
        invalid("callbacks", "EarlyStopping"),
    ),
    C(
        "CallbackHook-callbacks-element-hook",
        lambda e: km.CallbackHook(
            [keras.callbacks.CSVLogger(e.path("log.csv")), _STOP(1)]
        ),
        TypeError,
        invalid_prefix(
            "callbacks[1]",
            "<keras_monitored.hooks.stop_at_step.StopAtStepHook object",
        ),
    ),
    C(
        "CallbackHook-model-str",
        lambda e: km.CallbackHook([], model="model"),
        TypeError,
        invalid("model", "model"),
    ),
    C(
        "CallbackHook-steps_per_epoch-zero",
        lambda e: km.CallbackHook(
            [keras.callbacks.CSVLogger(e.path("log.csv"))], steps_per_epoch=0
        ),
        ValueError,
        invalid("steps_per_epoch", 0),
    ),
    C(
        "CallbackHook-steps_per_epoch-float",
        lambda e: km.CallbackHook([], steps_per_epoch=100.0),
        TypeError,
        invalid("steps_per_epoch", 100.0),
    ),
    C(
        "CallbackHook-validation_fn-int",
        lambda e: km.CallbackHook([], validation_fn=1),
        TypeError,
        invalid("validation_fn", 1),
    ),
    C(
        "CallbackHook-verbose-3",
        lambda e: km.CallbackHook([], verbose=3),
        ValueError,
        invalid("verbose", 3),
    ),
    # -- km.SessionRunArgs / km.SessionRunContext -----------------------------
    C(
        "SessionRunArgs-feed_dict-list",
        lambda e: km.SessionRunArgs("loss", feed_dict=[1]),
        TypeError,
        invalid("feed_dict", [1]),
    ),
    C(
        "SessionRunArgs-fetches-int",
        lambda e: km.SessionRunArgs(3),
        TypeError,
        invalid("fetches", 3),
    ),
    C(
        "SessionRunContext-original_args-tuple",
        lambda e: km.SessionRunContext(original_args=("loss",), session=None),
        TypeError,
        invalid("original_args", ("loss",)),
    ),
    C(
        "SessionRunContext-num_steps-str",
        lambda e: km.SessionRunContext(
            km.SessionRunArgs(None), None, num_steps="two"
        ),
        TypeError,
        invalid("num_steps", "two"),
    ),
    # -- sess.run(...) ------------------------------------------------------------
    C(
        "run-unknown-fetch-before-any-step",
        lambda e: e.session().run("loss"),
        KeyError,
        text(
            "Fetch 'loss' names a step output, but no step has completed yet. "
            "Available names: ['global_step']"
        ),
    ),
    C(
        "run-unknown-fetch",
        lambda e: e.stepped_session().run("accuracy"),
        KeyError,
        text(
            "Fetch 'accuracy' is not an output of the step. Available names: ['loss', 'global_step']"
        ),
    ),
    C(
        "run-unknown-fetch-in-structure",
        lambda e: e.stepped_session().run({"a": ["loss", "los"]}),
        KeyError,
        text(
            "Fetch 'los' is not an output of the step. Available names: ['loss', 'global_step']"
        ),
    ),
    C(
        "run-unknown-tf1-tensor-name",
        lambda e: e.stepped_session().run("accuracy:0"),
        KeyError,
        text(
            "Fetch 'accuracy:0' is not an output of the step. Available names: ['loss', 'global_step']"
        ),
    ),
    C(
        "run-non-callable-int",
        lambda e: e.session().run(3),
        TypeError,
        text("Fetch 3 has invalid type int"),
    ),
    C(
        "run-fetches-none",
        lambda e: e.session().run(None),
        TypeError,
        text("Fetch None has invalid type NoneType"),
    ),
    C(
        "run-eager-tensor",
        lambda e: e.session().run(tf.constant(2.0)),
        TypeError,
        text(
            "Fetch <tf.Tensor: shape=(), dtype=float32, numpy=2.0> is an eager tensor"
        ),
    ),
    C(
        "run-feed_dict-non-str-key",
        lambda e: e.session().run(_scaled_step, feed_dict={1: 2.0}),
        TypeError,
        invalid("feed_dict", {1: 2.0}),
    ),
    C(
        "run-feed_dict-tf1-tensor-name-key",
        lambda e: e.session().run(_scaled_step, feed_dict={"x:0": 2.0}),
        TypeError,
        invalid("feed_dict", {"x:0": 2.0}) + ".*not 'x:0'",
    ),
    C(
        "run-feed_dict-list",
        lambda e: e.session().run(_scaled_step, feed_dict=[2.0]),
        TypeError,
        invalid("feed_dict", [2.0]),
    ),
    C(
        "run-feed_dict-with-read-only-fetches",
        lambda e: e.session().run("global_step", feed_dict={"x": 1}),
        TypeError,
        invalid("feed_dict", {"x": 1}) + ".*fetches='global_step' only reads",
    ),
    C(
        "run-feed_dict-key-the-step-does-not-take",
        lambda e: e.session().run(_scaled_step, feed_dict={"x": 1.0, "z": 2.0}),
        TypeError,
        r"(?s)`feed_dict`.*'z'",
    ),
    C(
        "run-hook-feed_dict-non-str-key",
        lambda e: e.session(hooks=[_FeedsKey({1: 2.0})]).run(_scaled_step),
        TypeError,
        invalid("feed_dict", {1: 2.0}),
    ),
    C(
        "run-feed_dict-fed-by-hook-and-caller",
        lambda e: e.session(hooks=[_FeedsKey({"x": 1.0})]).run(
            _scaled_step, feed_dict={"x": 2.0}
        ),
        RuntimeError,
        text(
            "Same tensor is fed by a SessionRunHook and user. Conflict(s): ['x']"
        ),
    ),
    C(
        "run-step-returns-object",
        lambda e: e.session().run(_object_step),
        TypeError,
        r"(?s)_object_step.*'obj'.*<object object at",
    ),
    # -- sess.run_step_fn ---------------------------------------------------------
    C(
        "run_step_fn-two-arguments",
        lambda e: e.session().run_step_fn(_two_args),
        ValueError,
        text(
            "`step_fn` may either have one `step_context` argument, or `self` and `step_context` "
            "arguments if it's an instance method. Got ('a', 'b') instead."
        ),
    ),
    C(
        "run_step_fn-non-callable",
        lambda e: e.session().run_step_fn(3),
        TypeError,
        invalid("step_fn", 3),
    ),
    # -- km.expose ----------------------------------------------------------------
    C(
        "expose-outside-a-step",
        lambda e: km.expose("grad_norm", 1.0),
        RuntimeError,
        text("km.expose('grad_norm', ...) was called outside a step function."),
    ),
    C(
        "expose-name-int",
        lambda e: e.session().run(_expose_int_name),
        TypeError,
        invalid("name", 3),
    ),
    C(
        "expose-name-global_step",
        lambda e: e.session().run(_expose_global_step),
        ValueError,
        invalid("name", "global_step"),
    ),
    C(
        "expose-twice",
        lambda e: e.session().run(_expose_twice),
        ValueError,
        text("km.expose: the name 'norm' was exposed twice in one step."),
    ),
    C(
        "expose-a-returned-name",
        lambda e: e.session().run(_expose_returned_name),
        ValueError,
        text(
            "km.expose names ['loss'] are also outputs returned by the step function"
        ),
    ),
    C(
        "expose-value-object",
        lambda e: e.session().run(_expose_object),
        TypeError,
        invalid("value", _OBJECT),
    ),
    # -- km.distribute --------------------------------------------------------------
    C(
        "distribute.tpu_strategy-tpu-int",
        lambda e: km.distribute.tpu_strategy(8470),
        TypeError,
        invalid("tpu", 8470),
    ),
    # -- km.flags.define_flags ------------------------------------------------------
    C(
        "define_flags-exclude-str",
        lambda e: km_flags.define_flags(
            flags.FlagValues(), exclude="max_steps"
        ),
        TypeError,
        invalid("exclude", "max_steps"),
    ),
    C(
        "define_flags-exclude-unknown-name",
        lambda e: km_flags.define_flags(
            flags.FlagValues(), exclude=("max_step",)
        ),
        ValueError,
        invalid("exclude", ("max_step",)) + r".*\['max_step'\] are not",
    ),
    C(
        "define_flags-exclude-int-name",
        lambda e: km_flags.define_flags(flags.FlagValues(), exclude=(1,)),
        TypeError,
        invalid("exclude", (1,)),
    ),
    C(
        "define_flags-exclude-differs-from-first-call",
        lambda e: _define_twice((), ("tpu",)),
        ValueError,
        text(
            "Invalid value for argument `exclude`. Received: exclude=('tpu',)"
        ),
    ),
    C(
        "define_flags-incompatible-own-flag",
        lambda e: _define_over(_own_integer("checkpoint_dir", 0)),
        ValueError,
        text(
            "The program already defines --checkpoint_dir as an int flag (default 0)"
        )
        + ".*"
        + text("define_flags(exclude=('checkpoint_dir',))"),
    ),
    C(
        "define_flags-own-strategy-unknown-default",
        lambda e: _define_over(
            lambda v: flags.DEFINE_string(
                "strategy", "ps", "own", flag_values=v
            )
        ),
        ValueError,
        text(
            "The program already defines --strategy as a string flag (default 'ps')"
        ),
    ),
    C(
        "define_flags-flag_values-dict",
        lambda e: km_flags.define_flags({}),
        TypeError,
        invalid("flag_values", {}),
    ),
    # -- absl parsing of km's flags -----------------------------------------------
    C(
        "flags-max_steps-zero",
        lambda e: _parsed(f"--checkpoint_dir={e.path('run')}", "--max_steps=0"),
        flags.IllegalFlagValueError,
        text("flag --max_steps=0: 0 is not a positive integer"),
    ),
    C(
        "flags-max_steps-not-a-number",
        lambda e: _parsed("--max_steps=1k"),
        flags.IllegalFlagValueError,
        text("flag --max_steps=1k:"),
    ),
    C(
        "flags-strategy-unknown",
        lambda e: _parsed("--strategy=parameter_servers"),
        flags.IllegalFlagValueError,
        text(
            "flag --strategy=parameter_servers: value should be one of <auto|default|"
        ),
    ),
    C(
        "flags-save_checkpoint_secs-negative",
        lambda e: _parsed("--save_checkpoint_secs=-1"),
        flags.IllegalFlagValueError,
        text("flag --save_checkpoint_secs=-1:"),
    ),
    C(
        "flags-save_checkpoint_secs-zero",
        lambda e: _parsed("--save_checkpoint_secs=0"),
        flags.IllegalFlagValueError,
        text("save_checkpoint_secs=0.0: --save_checkpoint_secs must be > 0."),
    ),
    C(
        "flags-save_checkpoint-both",
        lambda e: _parsed(
            f"--checkpoint_dir={e.path('run')}",
            "--save_checkpoint_steps=10",
            "--save_checkpoint_secs=60",
        ),
        flags.IllegalFlagValueError,
        text(
            "save_checkpoint_steps=10, save_checkpoint_secs=60.0: --save_checkpoint_steps and "
            "--save_checkpoint_secs are exclusive"
        ),
    ),
    C(
        "flags-tpu-with-mirrored",
        lambda e: _parsed("--tpu=grpc://10.0.0.2:8470", "--strategy=mirrored"),
        flags.IllegalFlagValueError,
        text("strategy=mirrored, tpu=grpc://10.0.0.2:8470: --tpu is only used"),
    ),
    C(
        "flags-steps_per_loop-zero",
        lambda e: _parsed("--steps_per_loop=0"),
        flags.IllegalFlagValueError,
        text("flag --steps_per_loop=0: 0 is not a positive integer"),
    ),
    C(
        "flags-log_step_count_steps-negative",
        lambda e: _parsed("--log_step_count_steps=-1"),
        flags.IllegalFlagValueError,
        text("flag --log_step_count_steps=-1:"),
    ),
    C(
        "flags-unknown-flag",
        lambda e: _parsed("--max_step=10"),
        flags.UnrecognizedFlagError,
        text("Unknown command line flag 'max_step'"),
    ),
    # -- km.flags.strategy_from_flags / session_from_flags --------------------
    C(
        "strategy_from_flags-own-flag-unknown-strategy",
        lambda e: km_flags.strategy_from_flags(
            _parsed("--strategy=bogus", define=_own_string_strategy)
        ),
        ValueError,
        text(
            "Invalid value for flag --strategy. Received: 'bogus'. Expected one of auto,"
        ),
    ),
    C(
        "strategy_from_flags-own-flag-tpu-with-mirrored",
        lambda e: km_flags.strategy_from_flags(
            _parsed(
                "--strategy=mirrored",
                "--tpu=grpc://x",
                define=_own_string_strategy,
            )
        ),
        ValueError,
        text(
            "--tpu='grpc://x' is only used with --strategy=tpu (or auto); "
            "received --strategy=mirrored."
        ),
    ),
    C(
        "session_from_flags-own-flag-unknown-strategy",
        lambda e: km_flags.session_from_flags(
            flag_values=_parsed(
                f"--checkpoint_dir={e.path('run')}",
                "--strategy=psx",
                define=_own_string_strategy,
            )
        ),
        ValueError,
        text("Invalid value for flag --strategy. Received: 'psx'."),
    ),
    C(
        "session_from_flags-flags-not-defined",
        lambda e: km_flags.session_from_flags(flag_values=flags.FlagValues()),
        ValueError,
        invalid_prefix(
            "flag_values", "<absl.flags._flagvalues.FlagValues object"
        ),
    ),
    C(
        "session_from_flags-hooks-int",
        lambda e: km_flags.session_from_flags(
            hooks=3, flag_values=_parsed(f"--checkpoint_dir={e.path('run')}")
        ),
        TypeError,
        invalid("hooks", 3),
    ),
    C(
        "session_from_flags-scaffold-str",
        lambda e: km_flags.session_from_flags(
            scaffold="s",
            flag_values=_parsed(f"--checkpoint_dir={e.path('run')}"),
        ),
        TypeError,
        invalid("scaffold", "s"),
    ),
    C(
        "session_from_flags-strategy-str",
        lambda e: km_flags.session_from_flags(
            flag_values=_parsed(), strategy="mirrored"
        ),
        TypeError,
        invalid("strategy", "mirrored"),
    ),
    C(
        "session_from_flags-own-max_steps-negative",
        lambda e: km_flags.session_from_flags(
            flag_values=_parsed(
                f"--checkpoint_dir={e.path('run')}",
                "--max_steps=-5",
                define=_own_integer("max_steps", None),
            )
        ),
        ValueError,
        r"max_steps.*-5",
    ),
    C(
        "session_from_flags-own-keep_checkpoint_max-zero",
        lambda e: km_flags.session_from_flags(
            flag_values=_parsed(
                f"--checkpoint_dir={e.path('run')}",
                "--keep_checkpoint_max=0",
                define=_own_integer("keep_checkpoint_max", 5),
            )
        ),
        ValueError,
        r"(keep_checkpoint_max|max_to_keep)=0",
    ),
    C(
        "session_from_flags-own-steps_per_loop-zero",
        lambda e: km_flags.session_from_flags(
            flag_values=_parsed(
                f"--checkpoint_dir={e.path('run')}",
                "--steps_per_loop=0",
                define=_own_integer("steps_per_loop", 1),
            )
        ),
        ValueError,
        r"steps_per_loop=0",
    ),
    # -- km-migrate (migration.cli.main): exit code 2, the message in `err` ---
    C(
        "km-migrate-checkpoint-map-without-equals",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            _MODEL,
            "--out",
            e.path("out"),
            "--map",
            "w1",
        ),
        CliUsageError,
        invalid("--map", "w1"),
    ),
    C(
        "km-migrate-checkpoint-map-bad-regex",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            _MODEL,
            "--out",
            e.path("out"),
            "--map",
            "(=x",
        ),
        CliUsageError,
        invalid("--map", "(=x") + ".*not a valid Python regular expression",
    ),
    C(
        "km-migrate-checkpoint-map-bad-group",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            _MODEL,
            "--out",
            e.path("out"),
            "--map",
            r"^w(1)$=dense/\2",
        ),
        CliUsageError,
        invalid("--map", r"^w(1)$=dense/\2"),
    ),
    C(
        "km-migrate-checkpoint-missing-TF1_CKPT",
        lambda e: _migrate(
            "checkpoint",
            e.path("missing/model.ckpt-5"),
            "--model",
            _MODEL,
            "--out",
            e.path("out"),
        ),
        CliUsageError,
        text("Invalid value for argument `TF1_CKPT`. Received: TF1_CKPT='")
        + ".*missing/model.ckpt-5'. Nothing is there",
    ),
    C(
        "km-migrate-checkpoint-optimizer-name",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            _MODEL,
            "--out",
            e.path("out"),
            "--optimizer",
            "adam",
        ),
        CliUsageError,
        invalid("--optimizer", "adam") + ".*FILE.py:FUNCTION",
    ),
    C(
        "km-migrate-checkpoint-model-without-function",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            _DENSE,
            "--out",
            e.path("out"),
        ),
        CliUsageError,
        invalid("--model", _DENSE) + ".*no `:FUNCTION` part",
    ),
    C(
        "km-migrate-checkpoint-model-missing-file",
        lambda e: _migrate(
            "checkpoint",
            e.tf1_prefix,
            "--model",
            "nowhere.py:build",
            "--out",
            e.path("out"),
        ),
        CliUsageError,
        invalid("--model", "nowhere.py:build")
        + ".*There is no file 'nowhere.py'",
    ),
    C(
        "km-migrate-inspect-missing-CKPT",
        lambda e: _migrate("inspect", e.path("nothing")),
        CliUsageError,
        text("Invalid value for argument `CKPT`. Received: CKPT='")
        + ".*nothing'. Nothing is there",
    ),
    C(
        "km-migrate-upgrade-missing-PATH",
        lambda e: _migrate(
            "upgrade", e.path("train.py"), "--out", e.path("out")
        ),
        CliUsageError,
        text("`PATH` '") + ".*train.py' does not exist",
    ),
    C(
        "km-migrate-upgrade-neither-out-nor-in-place",
        lambda e: _migrate("upgrade", e.path("train.py")),
        CliUsageError,
        text("one of the arguments --out --in-place is required"),
    ),
    C(
        "km-migrate-upgrade-both-out-and-in-place",
        lambda e: _migrate(
            "upgrade", e.path("train.py"), "--out", e.path("out"), "--in-place"
        ),
        CliUsageError,
        text("argument --in-place: not allowed with argument --out"),
    ),
    C(
        "km-migrate-unknown-command",
        lambda e: _migrate("convert", e.path("train.py")),
        CliUsageError,
        text("invalid choice: 'convert'"),
    ),
]


def test_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def tf1_prefix(tmp_path_factory):
    """A TF1 name-based checkpoint (outside every case's directory) that
    `dense_models.build_named_dense` matches."""
    from tests.migration.checkpoint_models import tf1_graphs

    directory = tmp_path_factory.mktemp("tf1")
    return tf1_graphs.train_and_save(
        str(directory), "flat_names", "adam", 1, 0.1
    )


# Contract arguments whose feature is a later issue: strict, so the case
# fails once the feature lands and must then leave this list.
PENDING: dict[str, str] = {}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            marks=pytest.mark.xfail(strict=True, reason=PENDING[case.id]),
        )
        if case.id in PENDING
        else case
        for case in CASES
    ],
    ids=[case.id for case in CASES],
)
def test_bad_input_is_refused_naming_argument_and_value(
    case, tf1_prefix, tmp_path, monkeypatch
):
    root = tmp_path / "case"
    root.mkdir()
    monkeypatch.chdir(root)
    env = Env(str(root), tf1_prefix)
    result = None
    try:
        with pytest.raises(case.error, match=case.match):
            result = case.call(env)
    except BaseException as failure:
        if case.bug:
            failure.add_note(
                f"Known library bug. Current behaviour: {case.bug}"
            )
        # A failed match is raised while handling the case's own error.
        stray = getattr(failure.__context__, "stderr", "")
        if stray:
            failure.add_note(f"km-migrate wrote to sys.stderr instead: {stray}")
        raise
    finally:
        _dispose(result)
        env.close()
    left = sorted(
        os.path.relpath(os.path.join(where, name), root)
        for where, dirs, names in os.walk(root)
        for name in dirs + names
    )
    assert left == [], f"bad input left files behind: {left}"
