"""The upgrade rules, as data: what TF1 names become, and what needs a person.

Every TF1 name is written here in *canonical* form: its path under the TF1
API root, without the root (`train.StopAtStepHook` for
`tf.train.StopAtStepHook`, `tf.compat.v1.train.StopAtStepHook` and
`from tensorflow.python.training.basic_session_run_hooks import
StopAtStepHook`). `names.canonical_name` maps a qualified name to this form.
The engine (`engine.py`) reads these tables; it holds no names of its own.
"""

from __future__ import annotations

# -- Where TF1 names live ------------------------------------------------------

#: Qualified-name prefixes of the TF1 API, longest first, and the canonical
#: prefix each stands for. `tensorflow.` is TF1's own root (TF1 source);
#: `tensorflow.compat.v1.` is what tf_upgrade_v2 and TF2-era code use.
TF1_ROOTS: tuple[tuple[str, str], ...] = (
    ("tensorflow.python.training.basic_session_run_hooks.", "train."),
    ("tensorflow.python.training.session_run_hook.", "train."),
    ("tensorflow.python.training.monitored_session.", "train."),
    ("tensorflow.python.training.training_util.", "train."),
    ("tensorflow.python.platform.tf_logging.", "logging."),
    ("tensorflow.python.platform.flags.", "flags."),
    ("tensorflow.python.platform.app.", "app."),
    ("tensorflow.compat.v1.", ""),
    ("tensorflow._api.v2.compat.v1.", ""),
    ("tensorflow.", ""),
)

#: Third-party roots whose names get reports of their own (canonical prefix).
OTHER_ROOTS: tuple[tuple[str, str], ...] = (("horovod.", "horovod."),)

# -- Renames to keras_monitored -----------------------------------------------

#: The session family, the hook protocol and the global step: `km.<name>`.
_SESSION_NAMES = (
    "MonitoredTrainingSession",
    "MonitoredSession",
    "SingularMonitoredSession",
    "Scaffold",
    "SessionCreator",
    "ChiefSessionCreator",
    "WorkerSessionCreator",
    "SessionRunHook",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunValues",
    "get_or_create_global_step",
    "get_global_step",
)
#: The standard hooks and their helpers: `km.hooks.<name>`.
_HOOK_NAMES = (
    "StopAtStepHook",
    "CheckpointSaverHook",
    "CheckpointSaverListener",
    "LoggingTensorHook",
    "NanTensorHook",
    "NanLossDuringTrainingError",
    "StepCounterHook",
    "SummarySaverHook",
    "FinalOpsHook",
    "FeedFnHook",
    "GlobalStepWaiterHook",
    "ProfilerHook",
    "SecondOrStepTimer",
)
#: Names of the hook protocol and hooks that tf.estimator re-exported.
_ESTIMATOR_ALIASES = (
    "SessionRunHook",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunValues",
) + _HOOK_NAMES


def _renames() -> dict[str, str]:
    table = {f"train.{n}": f"km.{n}" for n in _SESSION_NAMES}
    table.update({f"train.{n}": f"km.hooks.{n}" for n in _HOOK_NAMES})
    for name in _ESTIMATOR_ALIASES:
        table[f"estimator.{name}"] = table[f"train.{name}"]
    # TF1's own hooks read the global step through a private helper.
    table["train._get_or_create_global_step_read"] = (
        "km.get_or_create_global_step"
    )
    table["train.create_global_step"] = "km.get_or_create_global_step"
    return table


#: canonical TF1 name -> the keras_monitored expression that replaces it.
KM_RENAMES: dict[str, str] = _renames()

#: The import each rename target needs: (module, name or None, alias).
KM_IMPORT = ("keras_monitored", None, "km")
KM_FLAGS_IMPORT = ("keras_monitored", "flags", "km_flags")

# -- Renames to absl ------------------------------------------------------------

#: TF1 module aliases of absl modules: canonical prefix -> absl module.
ABSL_MODULES: dict[str, str] = {
    "app.flags": "flags",
    "flags": "flags",
    "logging": "logging",
}

#: The members of tf.logging that absl.logging has under the same name.
ABSL_LOGGING_MEMBERS = frozenset(
    {
        "DEBUG",
        "ERROR",
        "FATAL",
        "INFO",
        "WARN",
        "debug",
        "error",
        "fatal",
        "get_verbosity",
        "info",
        "log",
        "log_every_n",
        "log_first_n",
        "log_if",
        "set_verbosity",
        "vlog",
        "warn",
        "warning",
    }
)

#: canonical name of TF1's `app.run`, rewritten to absl's `app.run(main)`.
APP_RUN = "app.run"

# -- Calls removed -------------------------------------------------------------

#: Statement calls that only switched TF2 off (or reset TF1's graph):
#: removed, since keras_monitored needs eager execution.
REMOVED_CALLS: dict[str, str] = {
    "disable_v2_behavior": "keras_monitored needs TF2 behaviour (eager execution)",
    "disable_eager_execution": "keras_monitored needs eager execution",
    "disable_v2_tensorshape": "TF2 shapes are what keras_monitored expects",
    "disable_resource_variables": "TF2 variables are resource variables",
    "disable_control_flow_v2": "TF2 control flow is what tf.function uses",
    "reset_default_graph": "TF2 has no default graph to reset",
    "enable_v2_behavior": "TF2 behaviour is already on",
    "enable_eager_execution": "eager execution is already on",
}

#: `with <this>.as_default():` blocks around the training loop are unwrapped.
GRAPH_CONSTRUCTOR = "Graph"

# -- Flags keras_monitored defines ---------------------------------------------

#: TF1 flag name -> the DEFINE_* functions whose flag means what km's does,
#: and km's lower bound for integer flags (a default below it means
#: something else, e.g. 0 = "off").
KM_FLAGS: dict[str, tuple[frozenset[str], int | None]] = {
    "checkpoint_dir": (frozenset({"DEFINE_string"}), None),
    "summary_dir": (frozenset({"DEFINE_string"}), None),
    "max_steps": (frozenset({"DEFINE_integer"}), 1),
    "save_checkpoint_steps": (frozenset({"DEFINE_integer"}), 1),
    "save_checkpoint_secs": (
        frozenset({"DEFINE_integer", "DEFINE_float"}),
        1,
    ),
    "save_summaries_steps": (frozenset({"DEFINE_integer"}), 1),
    "log_step_count_steps": (frozenset({"DEFINE_integer"}), 0),
    "keep_checkpoint_max": (frozenset({"DEFINE_integer"}), 1),
}

#: Calls whose result is the global step variable (a valid TF2 fetch: its
#: value before the step, as TF1's graph read returned it).
GLOBAL_STEP_CALLS = frozenset(
    {
        "train.get_or_create_global_step",
        "train.get_global_step",
        "train.create_global_step",
        "train._get_or_create_global_step_read",
    }
)

#: Canonical prefixes of the graph-building TF1 API a hook's `begin()` (or
#: `__init__`) may not call: what it builds runs once, eagerly, and a fetch
#: of it is a constant. Everything under the TF1 root is graph-building
#: except these (protos, files, training helpers that are not tensors).
NOT_GRAPH_BUILDING: tuple[str, ...] = (
    "RunOptions",
    "RunMetadata",
    "ConfigProto",
    "GPUOptions",
    "io.gfile.",
    "gfile.",
    "errors.",
    "train.latest_checkpoint",
    "train.get_checkpoint_state",
    "train.checkpoint_exists",
    "train.get_checkpoint_mtimes",
    "train.Coordinator",
    "logging.",
    "flags.",
    "app.",
)
