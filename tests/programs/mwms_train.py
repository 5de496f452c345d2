"""A worker of a MultiWorkerMirroredStrategy job (TF_CONFIG from the
environment) training a Keras model through km.MonitoredTrainingSession.

Writes a JSON result file once the session is created (its global step and
weights then: what it restored) and again at the end (global step, weights,
saves, the loss each run returned). `reference_run` trains the same model on
the same global batches in one process: the weights and losses the job must
arrive at (tests/test_distributed.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal

from absl import app, flags

GLOBAL_BATCH = 16
LEARNING_RATE = 0.05
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string(
        "checkpoint_dir", None, "Shared checkpoint directory.", required=True
    )
    flags.DEFINE_string(
        "result_file", None, "Where to write the JSON result.", required=True
    )
    flags.DEFINE_integer("last_step", 40, "Global step to stop at.")
    flags.DEFINE_integer(
        "save_checkpoint_steps", None, "Checkpoint every N steps."
    )
    flags.DEFINE_float(
        "save_checkpoint_secs", None, "Checkpoint every N seconds."
    )
    flags.DEFINE_integer("steps_per_loop", 1, "Steps per run call.")
    flags.DEFINE_integer(
        "kill_at_step",
        0,
        "SIGKILL this worker after this global step (0: never).",
    )
    flags.DEFINE_integer(
        "term_at_step",
        0,
        "Send this worker SIGTERM after this global step (0: never).",
    )
    flags.DEFINE_integer(
        "save_summaries_steps", None, "Chief: summaries every N steps."
    )
    flags.DEFINE_integer(
        "log_step_count_steps", None, "Chief: global_step/sec every N steps."
    )
    flags.DEFINE_integer(
        "chief_stops_at",
        0,
        "A chief-only StopAtStepHook at this step (0: none).",
    )
    flags.DEFINE_bool(
        "in_scope", False, "Create and run the session inside strategy.scope()."
    )
    flags.DEFINE_bool(
        "checkpoint_input", False, "Save the input position with checkpoints."
    )


def build_model():
    import keras

    keras.utils.set_random_seed(11)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )


def global_batches():
    """The endless dataset of global batches (the same in every process)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = x @ np.array([[1.0], [-1.0], [0.5], [2.0]], "float32")
    return (
        tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(GLOBAL_BATCH)
    )


def reference_run(start_weights, steps):
    """(weights, losses): the weights `steps` SGD steps on the first global
    batches lead to from `start_weights`, and each step's loss (the mean
    over its whole global batch), computed in one process without a
    strategy."""
    import keras
    import tensorflow as tf

    model = build_model()
    model.set_weights(start_weights)
    optimizer = keras.optimizers.SGD(LEARNING_RATE)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            per_example = tf.reduce_sum(
                (model(xb, training=True) - yb) ** 2, axis=1
            )
            loss = tf.reduce_sum(per_example) / GLOBAL_BATCH
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [
        float(train_step(xb, yb)) for xb, yb in global_batches().take(steps)
    ]
    return model.get_weights(), losses


def reference_weights(start_weights, steps):
    """The weights of `reference_run`."""
    return reference_run(start_weights, steps)[0]


def write_result(result: dict) -> None:
    partial = FLAGS.result_file + ".partial"
    with open(partial, "w") as handle:
        json.dump(result, handle)
    os.replace(partial, FLAGS.result_file)


def main(argv):
    del argv
    import tensorflow as tf  # after absl parsed flags

    import keras_monitored as km

    # What strategy_from_flags does: wait for the other worker in Python.
    km.distribute.wait_for_peers()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(LEARNING_RATE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    batches = iter(
        strategy.experimental_distribute_dataset(
            global_batches().with_options(options)
        )
    )

    def train_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            per_example = tf.reduce_sum(
                (model(xb, training=True) - yb) ** 2, axis=1
            )
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=GLOBAL_BATCH
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        tf.summary.scalar("loss", tf.reduce_mean(per_example))
        loss = tf.reduce_mean(per_example)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        # Floating outputs (of any float dtype) are averaged over every
        # worker's replicas; others are this worker's first replica's.
        return {
            "loss": loss,
            "loss64": tf.cast(loss, tf.float64),
            "replica": replica,
        }

    losses = []

    class Losses(km.SessionRunHook):
        """Records (global step after the run, steps run, its loss, its
        float64 loss, its replica id)."""

        def before_run(self, run_context):
            return km.SessionRunArgs(
                {
                    "step": "global_step",
                    "loss": "loss",
                    "loss64": "loss64",
                    "replica": "replica",
                }
            )

        def after_run(self, run_context, run_values):
            results = run_values.results
            losses.append(
                [
                    int(results["step"]),
                    run_context.num_steps,
                    float(results["loss"]),
                    float(results["loss64"]),
                    int(results["replica"]),
                ]
            )

    class KillAt(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            if FLAGS.kill_at_step and run_values.results >= FLAGS.kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)
            if FLAGS.term_at_step and run_values.results == FLAGS.term_at_step:
                os.kill(os.getpid(), signal.SIGTERM)

    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    saves = []

    class CountSaves(km.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            saves.append(int(global_step_value))

    chief_only = (
        [km.StopAtStepHook(last_step=FLAGS.chief_stops_at)]
        if FLAGS.chief_stops_at
        else []
    )
    scope = strategy.scope() if FLAGS.in_scope else contextlib.nullcontext()
    result = {"task": json.loads(os.environ["TF_CONFIG"])["task"]}
    with (
        scope,
        km.MonitoredTrainingSession(
            checkpoint_dir=FLAGS.checkpoint_dir,
            scaffold=scaffold,
            save_checkpoint_steps=FLAGS.save_checkpoint_steps,
            save_checkpoint_secs=FLAGS.save_checkpoint_secs,
            save_summaries_steps=FLAGS.save_summaries_steps,
            log_step_count_steps=FLAGS.log_step_count_steps,
            strategy=strategy,
            steps_per_loop=FLAGS.steps_per_loop,
            checkpoint_input=FLAGS.checkpoint_input,
            hooks=[
                km.StopAtStepHook(last_step=FLAGS.last_step),
                KillAt(),
                Losses(),
            ],
            chief_only_hooks=chief_only,
        ) as sess,
    ):
        for hook in sess.hooks:
            if isinstance(hook, km.CheckpointSaverHook):
                hook._listeners.append(CountSaves())
        result["start"] = int(km.get_global_step().numpy())
        result["start_weights"] = [w.tolist() for w in model.get_weights()]
        write_result(result)  # what this worker restored, before any step
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": batches})
        result["preempted"] = sess.preempted
    result["global_step"] = int(km.get_global_step().numpy())
    result["weights"] = [w.tolist() for w in model.get_weights()]
    result["saves"] = saves
    result["losses"] = losses
    write_result(result)
    return km.PREEMPTED_EXIT_CODE if result["preempted"] else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
