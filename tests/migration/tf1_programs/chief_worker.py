"""A TF1 between-graph replicated trainer (km-migrate test program 3):
--job_name/--task_index flags, tf.train.Server, replica_device_setter, a
chief, and a FeedFnHook feeding placeholders. Without --job_name it trains
in-process (how such binaries were run on a workstation). Runs under TF 2.x
in TF1 mode."""

import json

import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()

flags = tf.flags
flags.DEFINE_string("ps_hosts", "", "Comma-separated ps host:port pairs.")
flags.DEFINE_string("worker_hosts", "", "Comma-separated worker hosts.")
flags.DEFINE_string("job_name", "", "ps or worker ('': train in-process).")
flags.DEFINE_integer("task_index", 0, "Index of this task in its job.")
flags.DEFINE_string("checkpoint_dir", "/tmp/tf1_chief_worker", "Checkpoints.")
flags.DEFINE_integer("max_steps", 30, "Global step to stop at.")
FLAGS = flags.FLAGS

BATCH = 8


class Batches(object):
    """Numpy batches, fed through placeholders."""

    def __init__(self):
        rng = np.random.RandomState(2)
        self.x = rng.randn(40, 2).astype(np.float32)
        self.y = (self.x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
        self.position = 0

    def next(self):
        index = np.arange(self.position, self.position + BATCH) % len(self.x)
        self.position += BATCH
        return self.x[index], self.y[index]


def main(_):
    server = None
    if FLAGS.job_name:
        cluster = tf.train.ClusterSpec(
            {
                "ps": FLAGS.ps_hosts.split(","),
                "worker": FLAGS.worker_hosts.split(","),
            }
        )
        server = tf.train.Server(
            cluster, job_name=FLAGS.job_name, task_index=FLAGS.task_index
        )
        if FLAGS.job_name == "ps":
            server.join()
            return
    device = None
    if server is not None:
        device = tf.train.replica_device_setter(
            worker_device="/job:worker/task:%d" % FLAGS.task_index,
            cluster=cluster,
        )
    with tf.device(device):
        global_step = tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        y = tf.placeholder(tf.float32, [None, 1], name="y")
        w = tf.get_variable("w", initializer=np.zeros((2, 1), np.float32))
        b = tf.get_variable("b", initializer=np.zeros((1,), np.float32))
        logits = tf.matmul(x, w) + b
        loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits),
            name="loss",
        )
        train_op = tf.train.GradientDescentOptimizer(0.5).minimize(
            loss, global_step=global_step
        )

    batches = Batches()
    losses = []

    class RecordLoss(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.train.SessionRunArgs(loss)

        def after_run(self, run_context, run_values):
            losses.append(float(run_values.results))

    def feed_fn():
        batch_x, batch_y = batches.next()
        return {x: batch_x, y: batch_y}

    hooks = [
        tf.train.StopAtStepHook(last_step=FLAGS.max_steps),
        tf.train.FeedFnHook(feed_fn),
        RecordLoss(),
    ]
    with tf.train.MonitoredTrainingSession(
        master=server.target if server is not None else "",
        is_chief=FLAGS.task_index == 0,
        checkpoint_dir=FLAGS.checkpoint_dir,
        save_checkpoint_steps=10,
        hooks=hooks,
    ) as sess:
        while not sess.should_stop():
            sess.run(train_op)
    print(json.dumps({"losses": losses}), flush=True)


if __name__ == "__main__":
    tf.app.run()
