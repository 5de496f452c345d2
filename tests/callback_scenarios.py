"""One training scenario run two ways: `model.fit`, and fit's loop written as
a km monitored session with CallbackHook. Same model, seed and data: 4
epochs of 10 steps, a loss and an MAE metric, optional validation data."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import keras_monitored as km

BATCH = 8
STEPS_PER_EPOCH = 10
EPOCHS = 4
_WEIGHTS = np.array([[1.0], [-2.0], [0.5]], "float32")


def data(seed: int = 0, steps: int = STEPS_PER_EPOCH):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH * steps, 3)).astype("float32")
    return x, x @ _WEIGHTS + 0.3 + 0.1 * rng.normal(size=(len(x), 1)).astype(
        "float32"
    )


def validation_data():
    return data(seed=1, steps=2)


def build_model(learning_rate=0.05, use_ema=False, compiled=True):
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.SGD(
        learning_rate, use_ema=use_ema, ema_overwrite_frequency=None
    )
    if compiled:
        model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    else:
        model.own_optimizer = optimizer
    return model


def fit(model, callbacks, epochs=EPOCHS, validation=False, verbose=0):
    x, y = data()
    return model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=verbose,
        callbacks=callbacks,
        validation_data=validation_data() if validation else None,
    )


def validation_fn(model):
    """fit's validation, as a function of the model: the mean loss and MAE
    over the validation data (equal batches, so the same means)."""
    xv, yv = validation_data()

    def validate():
        prediction = model(xv, training=False)
        return {
            "loss": tf.reduce_mean(tf.square(yv - prediction)),
            "mae": tf.reduce_mean(tf.abs(yv - prediction)),
        }

    return validate


def session(
    model,
    callbacks,
    epochs=EPOCHS,
    validation=False,
    checkpoint_dir=None,
    save_checkpoint_steps=STEPS_PER_EPOCH,
    last_step=None,
    verbose="auto",
    extra_outputs=None,
    hooks=(),
    checkpoint_input=False,
):
    """fit's loop as a monitored session. Returns the CallbackHook."""
    x, y = data()
    batches = iter(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()
    )
    optimizer = getattr(model, "optimizer", None) or model.own_optimizer

    def train_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            prediction = model(xb, training=True)
            loss = tf.reduce_mean(tf.square(yb - prediction))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        outputs = {
            "loss": loss,
            "mae": tf.reduce_mean(tf.abs(yb - prediction)),
        }
        if extra_outputs:
            outputs.update(extra_outputs(xb, prediction))
        return outputs

    hook = km.CallbackHook(
        callbacks,
        model=model,
        steps_per_epoch=STEPS_PER_EPOCH,
        validation_fn=validation_fn(model) if validation else None,
        verbose=verbose,
    )
    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    with km.MonitoredTrainingSession(
        checkpoint_dir=checkpoint_dir,
        scaffold=scaffold,
        save_checkpoint_steps=save_checkpoint_steps,
        save_summaries_steps=None,
        log_step_count_steps=None,
        checkpoint_input=checkpoint_input,
        hooks=[
            hook,
            km.StopAtStepHook(last_step=last_step or epochs * STEPS_PER_EPOCH),
            *hooks,
        ],
    ) as sess:
        while not sess.should_stop():
            sess.run(train_step, feed_dict={"batch": batches})
    return hook


def weights(model):
    return [np.array(w) for w in model.get_weights()]
