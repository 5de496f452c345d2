"""What the upgrader cannot convert, as data: each construct that needs a
person, and the keras_monitored / Keras 3 / tf.data / tf.distribute way.

Names are canonical TF1 names (see `rules`); a name ending in `.` covers
everything under it.
"""

from __future__ import annotations

import dataclasses


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
      fine_in_step: nothing to report inside a function the program runs
        as a step function (`sess.run(train_step)`): that is its km place.
    """

    names: tuple[str, ...]
    what: str
    how: str
    source: str = "tf1"
    severity: str = "ERROR"
    also_tf2: bool = False
    fine_in_step: bool = False


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
        "strategy: with ps tasks, --strategy=parameter_server (add a chief "
        "task; call km_flags.run_server() first in main: worker and ps "
        "tasks serve there), without them --strategy=multi_worker_mirrored "
        "(synchronous); keras_monitored derives the roles from TF_CONFIG",
    ),
    ManualRule(
        ("train.replica_device_setter",),
        "TF1 parameter-server device placement",
        "create the model and optimizer under the scope() of "
        "--strategy=parameter_server (a ParameterServerStrategy puts the "
        "variables on the ps tasks) and drop the `with tf.device(...)` "
        "around them",
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
        "is what the session saves; a Saver's max_to_keep=N becomes the "
        "session's max_to_keep=N (MonitoredTrainingSession or the session "
        "creator; keep_checkpoint_every_n_hours has no equivalent); "
        "`km-migrate checkpoint` converts the old checkpoints",
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
        fine_in_step=True,
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
