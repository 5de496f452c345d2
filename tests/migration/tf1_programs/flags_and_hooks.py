"""A TF1 training binary (km-migrate test program 1): tf.app.flags, a graph,
tf.train.MonitoredTrainingSession, and custom hooks that look the tensors they
fetch up in begin(), as TF1 codebases wrote them. Runs under TF 2.x in TF1
mode (tf.compat.v1 + disable_v2_behavior)."""

import json

import numpy as np
import tensorflow.compat.v1 as tf

flags = tf.app.flags
flags.DEFINE_string(
    "checkpoint_dir", "/tmp/tf1_flags_and_hooks", "Checkpoints."
)
flags.DEFINE_integer("max_steps", 40, "Global step to stop at.")
flags.DEFINE_integer("save_checkpoint_steps", 20, "Checkpoint every N steps.")
flags.DEFINE_float("learning_rate", 0.05, "SGD learning rate.")
flags.DEFINE_string("record", "", "Where StepRecorder writes its rows (JSON).")
FLAGS = flags.FLAGS


def make_data():
    rng = np.random.RandomState(0)
    x = rng.randn(64, 4).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    return x, (x @ true_w + 0.1).astype(np.float32)


class StepRecorder(tf.train.SessionRunHook):
    """Records the global step and the loss of every run."""

    def __init__(self, path):
        self._path = path
        self._rows = []

    def begin(self):
        # The graph tensors this hook fetches, looked up once.
        self._global_step_tensor = tf.train.get_global_step()
        self._loss_tensor = tf.get_default_graph().get_tensor_by_name("loss:0")

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(
            [self._global_step_tensor, self._loss_tensor]
        )

    def after_run(self, run_context, run_values):
        stale_step, loss = run_values.results
        self._rows.append([int(stale_step) + 1, float(loss)])

    def end(self, session):
        if self._path:
            with open(self._path, "w") as handle:
                json.dump(self._rows, handle)


class MeanLossLogger(tf.train.SessionRunHook):
    """Logs the mean loss of every `every_n` steps."""

    def __init__(self, every_n):
        self._every_n = every_n
        self._losses = []

    def begin(self):
        self._global_step_tensor = tf.train.get_or_create_global_step()

    def before_run(self, run_context):
        return tf.train.SessionRunArgs("loss:0")

    def after_run(self, run_context, run_values):
        self._losses.append(run_values.results)
        global_step = run_context.session.run(self._global_step_tensor)
        if global_step % self._every_n == 0:
            tf.logging.info(
                "step %d: mean loss %.4f", global_step, np.mean(self._losses)
            )
            self._losses = []


def main(_):
    tf.logging.set_verbosity(tf.logging.INFO)
    x, y = make_data()
    global_step = tf.train.get_or_create_global_step()
    features, labels = tf.data.make_one_shot_iterator(
        tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
    ).get_next()
    with tf.variable_scope("dense"):
        kernel = tf.get_variable(
            "kernel", initializer=np.full((4, 1), 0.1, np.float32)
        )
        bias = tf.get_variable("bias", initializer=np.zeros((1,), np.float32))
    predictions = tf.matmul(features, kernel) + bias
    loss = tf.reduce_mean(tf.square(predictions - labels), name="loss")
    train_op = tf.train.GradientDescentOptimizer(FLAGS.learning_rate).minimize(
        loss, global_step=global_step
    )

    hooks = [
        tf.train.StopAtStepHook(last_step=FLAGS.max_steps),
        tf.train.NanTensorHook(loss),
        tf.train.LoggingTensorHook(
            {"loss": loss, "step": global_step}, every_n_iter=10
        ),
        StepRecorder(FLAGS.record),
        MeanLossLogger(every_n=10),
    ]
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.checkpoint_dir,
        save_checkpoint_steps=FLAGS.save_checkpoint_steps,
        hooks=hooks,
    ) as sess:
        while not sess.should_stop():
            sess.run(train_op)
    print("done", flush=True)


if __name__ == "__main__":
    tf.disable_v2_behavior()
    tf.app.run()
