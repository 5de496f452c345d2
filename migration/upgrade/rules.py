"""The upgrade rules, as data: what TF1 names become, and what needs a person.

Every TF1 name is written here in *canonical* form: its path under the TF1
API root, without the root (`train.StopAtStepHook` for
`tf.train.StopAtStepHook`, `tf.compat.v1.train.StopAtStepHook` and
`from tensorflow.python.training.basic_session_run_hooks import
StopAtStepHook`). `names.canonical_name` maps a qualified name to this form.
The engine (`engine.py`) reads these tables; it holds no names of its own.
"""

from __future__ import annotations

import dataclasses

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

# -- What needs a person -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ManualRule:
    """A TF1 construct the upgrader cannot convert, and the km way to do it.

    Attributes:
      names: canonical names (`train.Server`) or prefixes ending in `.`
        (`contrib.`) this rule covers.
      what: what the construct is, for the report.
      how: the keras_monitored / Keras 3 / tf.data / tf.distribute way.
      source: where the names live, for the rule-table test: "tf1" (in the
        installed `tf.compat.v1`), "removed" (gone from TF2: tf.contrib,
        tf.estimator), or "horovod".
      severity: ERROR (the program does not run as TF1 meant until a person
        acts) or WARNING (runs, but check it).
      also_tf2: the name exists in TF2 too (`tf.summary.scalar`): reached
        through `tf.compat.v1` it is certainly TF1's (ERROR); through plain
        `tf` it may be TF2 code already (WARNING).
    """

    names: tuple[str, ...]
    what: str
    how: str
    source: str = "tf1"
    severity: str = "ERROR"
    also_tf2: bool = False


_STEP_FN = (
    "write a step function (tf.GradientTape + optimizer.apply_gradients) "
    "returning a dict of outputs, and run it with "
    "sess.run(train_step, feed_dict={'batch': iterator})"
)

MANUAL_RULES: tuple[ManualRule, ...] = (
    ManualRule(
        ("placeholder", "placeholder_with_default", "sparse_placeholder"),
        "a placeholder (a graph input fed by feed_dict)",
        "make it an argument of the step function and feed it by name: "
        "sess.run(train_step, feed_dict={'x': value}); for a dataset, feed "
        "an iterator: feed_dict={'batch': iter(dataset)}",
    ),
    ManualRule(
        ("get_default_graph",),
        "the TF1 graph",
        "TF2 runs eagerly and has no graph to look tensors up in: return "
        "what hooks need from the step function (or km.expose it) and fetch "
        "it by name",
    ),
    ManualRule(
        ("Graph",),
        "a TF1 graph",
        "keras_monitored runs eagerly: drop the graph (build the model and "
        "step function at the top level of main)",
        also_tf2=True,
    ),
    ManualRule(
        (
            "data.make_one_shot_iterator",
            "data.make_initializable_iterator",
            "data.Iterator",
        ),
        "a TF1 dataset iterator (a graph op)",
        "feed the iterator itself to the step function: "
        "sess.run(train_step, feed_dict={'batch': iter(dataset)}); km "
        "advances it inside the compiled step",
    ),
    ManualRule(
        ("Session", "InteractiveSession", "train.Supervisor"),
        "a raw TF1 session",
        "run steps with km.MonitoredTrainingSession (or km.SingularMonitored"
        "Session(...).raw_session() for a session without hooks)",
    ),
    ManualRule(
        ("train.Server", "train.ClusterSpec", "distribute.Server"),
        "a TF1 cluster server",
        "describe the cluster in TF_CONFIG and train with a tf.distribute "
        "strategy (--strategy=multi_worker_mirrored, synchronous); "
        "keras_monitored derives chief/worker roles from TF_CONFIG",
    ),
    ManualRule(
        ("train.replica_device_setter",),
        "TF1 parameter-server device placement",
        "create the model and optimizer under strategy.scope() (Mirrored / "
        "MultiWorkerMirrored place the replicas) and drop the "
        "`with tf.device(...)` around them",
    ),
    ManualRule(
        ("train.SyncReplicasOptimizer",),
        "synchronous replicas through a TF1 optimizer wrapper",
        "MultiWorkerMirroredStrategy trains replicas in sync: create the "
        "optimizer under strategy.scope() and drop the wrapper and its hook",
    ),
    ManualRule(
        (
            "train.shuffle_batch",
            "train.shuffle_batch_join",
            "train.batch",
            "train.batch_join",
            "train.maybe_batch",
            "train.maybe_shuffle_batch",
            "train.string_input_producer",
            "train.slice_input_producer",
            "train.input_producer",
            "train.range_input_producer",
            "train.limit_epochs",
            "train.start_queue_runners",
            "train.QueueRunner",
            "train.add_queue_runner",
            "TFRecordReader",
            "TextLineReader",
            "WholeFileReader",
            "FixedLengthRecordReader",
            "FIFOQueue",
            "RandomShuffleQueue",
            "PaddingFIFOQueue",
        ),
        "queue-based input",
        "build a tf.data pipeline (tf.data.TFRecordDataset(files).map(parse)"
        ".shuffle(n).batch(b).repeat()) and feed iter(dataset) to the step: "
        "km advances it inside the compiled step",
    ),
    ManualRule(
        ("layers.",),
        "tf.layers (removed with Keras 3)",
        "use keras.layers (tf.layers.dense -> keras.layers.Dense, "
        "conv2d -> Conv2D, batch_normalization -> BatchNormalization); "
        "convert the checkpoint with `km-migrate checkpoint`",
    ),
    ManualRule(
        (
            "get_variable",
            "get_local_variable",
            "variable_scope",
            "AUTO_REUSE",
        ),
        "TF1 variable scopes (variables named by scope)",
        "create variables with Keras layers or tf.Variable and track them "
        "with tf.train.Checkpoint(model=...); convert old checkpoints with "
        "`km-migrate checkpoint --map`",
    ),
    ManualRule(
        (
            "global_variables_initializer",
            "local_variables_initializer",
            "initialize_all_variables",
            "tables_initializer",
            "variables_initializer",
        ),
        "a TF1 initializer op",
        "delete it: TF2 variables initialise themselves; code that must run "
        "only on a fresh start goes in km.Scaffold(init_fn=...)",
    ),
    ManualRule(
        (
            "get_collection",
            "get_collection_ref",
            "add_to_collection",
            "add_to_collections",
            "GraphKeys",
            "losses.get_regularization_loss",
            "losses.get_regularization_losses",
            "losses.get_total_loss",
            "losses.get_losses",
            "global_variables",
            "trainable_variables",
            "local_variables",
            "model_variables",
        ),
        "graph collections",
        "use the objects: model.trainable_variables, model.losses "
        "(regularization), model.variables",
    ),
    ManualRule(
        ("train.ExponentialMovingAverage",),
        "ExponentialMovingAverage of the weights",
        "keras.optimizers.Adam(..., use_ema=True, ema_momentum=decay) keeps "
        "the averages in the optimizer (saved with its checkpoint); "
        "km.CallbackHook([keras.callbacks.SwapEMAWeights()]) swaps them in",
        also_tf2=True,
    ),
    ManualRule(
        (
            "train.exponential_decay",
            "train.piecewise_constant",
            "train.piecewise_constant_decay",
            "train.polynomial_decay",
            "train.natural_exp_decay",
            "train.inverse_time_decay",
            "train.cosine_decay",
            "train.cosine_decay_restarts",
            "train.linear_cosine_decay",
            "train.noisy_linear_cosine_decay",
        ),
        "a learning-rate decay of the global step",
        "keras.optimizers.schedules (ExponentialDecay(initial, decay_steps, "
        "rate, staircase=...), PiecewiseConstantDecay, PolynomialDecay, "
        "CosineDecay) given as the optimizer's learning_rate: it reads "
        "optimizer.iterations",
    ),
    ManualRule(
        (
            "train.GradientDescentOptimizer",
            "train.MomentumOptimizer",
            "train.AdamOptimizer",
            "train.AdagradOptimizer",
            "train.AdadeltaOptimizer",
            "train.RMSPropOptimizer",
            "train.FtrlOptimizer",
            "train.ProximalGradientDescentOptimizer",
            "train.ProximalAdagradOptimizer",
            "train.AdagradDAOptimizer",
            "train.Optimizer",
        ),
        "a TF1 optimizer (minimize() builds a train_op)",
        "use keras.optimizers (SGD(momentum=...), Adam(epsilon=1e-8 for "
        "TF1's default), Adagrad, RMSprop, Ftrl) and "
        "optimizer.apply_gradients in the step function; `km-migrate "
        "checkpoint --optimizer` converts its slots",
    ),
    ManualRule(
        ("train.Saver", "train.import_meta_graph", "train.export_meta_graph"),
        "a name-based TF1 Saver",
        "km.Scaffold(checkpoint=tf.train.Checkpoint(model=..., optimizer=...)) "
        "is what the session saves; `km-migrate checkpoint` converts the "
        "old checkpoints",
    ),
    ManualRule(
        (
            "summary.merge_all",
            "summary.merge",
            "summary.FileWriter",
            "summary.FileWriterCache",
        ),
        "a TF1 summary op or writer",
        "call tf.summary.scalar(name, value) inside the step function: "
        "km's SummarySaverHook records it every save_summaries_steps; "
        "SummarySaverHook(summary_op=...) takes step-output names",
    ),
    ManualRule(
        (
            "summary.scalar",
            "summary.histogram",
            "summary.image",
            "summary.audio",
            "summary.text",
            "summary.tensor_summary",
        ),
        "a TF1 graph summary",
        "move it into the step function; TF2's tf.summary.scalar(name, "
        "value) there is recorded by km's SummarySaverHook (at the global "
        "step); outside the step it writes nothing",
        also_tf2=True,
    ),
    ManualRule(
        ("contrib.",),
        "tf.contrib (removed in TF 2.0)",
        "contrib.layers/slim -> keras.layers; contrib.training.HParams -> "
        "absl flags or a dict; contrib.distribute -> tf.distribute; "
        "contrib.summary -> tf.summary; contrib.data -> tf.data",
        source="removed",
    ),
    ManualRule(
        (
            "estimator.Estimator",
            "estimator.EstimatorSpec",
            "estimator.TrainSpec",
            "estimator.EvalSpec",
            "estimator.train_and_evaluate",
            "estimator.RunConfig",
            "estimator.ModeKeys",
            "estimator.inputs.",
            "estimator.export.",
        ),
        "a tf.estimator model_fn (Estimator was removed in TF 2.16)",
        "move the model_fn's graph into a Keras model and a step function "
        "run by km.MonitoredTrainingSession(checkpoint_dir=model_dir, "
        "hooks=training_hooks); RunConfig's save_checkpoints_steps/"
        "save_summary_steps become the session's arguments",
        source="removed",
    ),
    ManualRule(
        ("horovod.",),
        "horovod",
        "use tf.distribute: MirroredStrategy on one host, MultiWorker"
        "MirroredStrategy across hosts (TF_CONFIG); learning rate x "
        "hvd.size() -> x strategy.num_replicas_in_sync; drop "
        "hvd.DistributedOptimizer and BroadcastGlobalVariablesHook (variables "
        "made under strategy.scope() start equal); hvd.rank() == 0 -> "
        "the chief (is_chief)",
        source="horovod",
    ),
)

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
