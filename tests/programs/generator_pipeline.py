"""A session fed an autotuned, prefetching pipeline over a Python generator
(given as a dataset: km makes its iterator), closed at once; prints how long
close() took. Used by tests/test_close.py: the process must also exit."""

import json
import sys
import tempfile
import time

import keras
import tensorflow as tf

import keras_monitored as km


def numbers():
    value = 0
    while True:
        time.sleep(0.01)  # a slow source: the pipeline's threads are busy
        value += 1
        yield float(value)


session = None


def main():
    # Module-level, as in a script: what is still alive at the interpreter's
    # exit is torn down while it finalizes.
    global session
    dataset = (
        tf.data.Dataset.from_generator(
            numbers, output_signature=tf.TensorSpec([], tf.float32)
        )
        .map(lambda x: x * 2.0, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(4)
        .prefetch(tf.data.AUTOTUNE)
    )
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam()

    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(tf.reshape(batch, (-1, 1))) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    session = km.MonitoredTrainingSession(
        checkpoint_dir=tempfile.mkdtemp(),
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=10,
        save_summaries_steps=5,
    )
    for _ in range(int(sys.argv[1])):
        session.run(step, feed_dict={"batch": dataset})
    start = time.monotonic()
    session.close()
    print(json.dumps({"close_secs": time.monotonic() - start}), flush=True)


if __name__ == "__main__":
    main()
