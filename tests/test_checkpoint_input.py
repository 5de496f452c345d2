"""checkpoint_input=True: the tf.data iterators fed to `run` are saved with
each checkpoint under their feed names, and a restarted program's fresh
iterator resumes at the next element."""

from __future__ import annotations

import logging

import pytest
import tensorflow as tf

import keras_monitored as km


def elements(dataset_fn, directory, last_step, feed="batch", **kwargs):
    """Runs a fresh 'program' to `last_step` over a fresh iterator (or the
    dataset itself) and returns the elements its steps saw."""
    km.reset_global_step()
    seen = tf.Variable(0, dtype=tf.int64)  # a variable, so steps are "trained"
    values = []

    def step(batch):
        seen.assign(tf.reduce_max(batch))
        return {"batch": batch}

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(directory),
        scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(seen=seen)),
        hooks=[km.hooks.StopAtStepHook(last_step=last_step)],
        save_checkpoint_steps=1,
        checkpoint_input=True,
        **kwargs,
    ) as sess:
        source = dataset_fn()
        while not sess.should_stop():
            out = sess.run(step, feed_dict={feed: source})
            values.append(out["batch"].tolist())
    return values


def plain_iterator():
    return iter(tf.data.Dataset.range(100).shuffle(10, seed=3).batch(1))


@pytest.mark.parametrize("async_checkpoint", [False, True])
def test_a_run_stopped_at_step_7_resumes_at_element_7(
    tmp_path, async_checkpoint
):
    first = elements(
        plain_iterator, tmp_path, 7, async_checkpoint=async_checkpoint
    )
    resumed = elements(
        plain_iterator, tmp_path, 10, async_checkpoint=async_checkpoint
    )
    uninterrupted = elements(plain_iterator, tmp_path / "once", 10)
    assert first + resumed == uninterrupted
    assert resumed == uninterrupted[7:10]  # elements 7, 8, 9: not 0, 1, 2
    assert resumed != uninterrupted[0:3]
    reader = tf.train.load_checkpoint(str(tmp_path))
    assert reader.has_tensor(
        "keras_monitored_input/batch/.ATTRIBUTES/ITERATOR_STATE"
    )


def test_with_steps_per_loop_too(tmp_path):
    def run(directory, last_step):
        km.reset_global_step()
        count = tf.Variable(0, dtype=tf.int64)
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(directory),
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(count=count)),
            hooks=[km.hooks.StopAtStepHook(last_step=last_step)],
            save_checkpoint_steps=5,
            steps_per_loop=4,
            checkpoint_input=True,
        ) as sess:
            iterator = iter(tf.data.Dataset.range(1000))
            out = None
            while not sess.should_stop():
                out = sess.run(
                    lambda x: {"x": x, "n": count.assign_add(1)},
                    feed_dict={"x": iterator},
                )
        return int(out["x"]), int(count.numpy())

    assert run(tmp_path, 7) == (6, 7)
    # Element 7 comes next, whichever loop lengths the steps ran in.
    assert run(tmp_path, 13) == (12, 13)


def test_a_dataset_fed_as_a_value_resumes_too(tmp_path):
    dataset = tf.data.Dataset.range(50).batch(2)
    first = elements(lambda: dataset, tmp_path, 3)
    resumed = elements(lambda: dataset, tmp_path, 5)
    assert first + resumed == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def test_a_mirrored_distributed_iterator_skips_what_was_consumed(
    tmp_path, mirrored, caplog
):
    def distributed():
        return iter(
            mirrored.experimental_distribute_dataset(
                tf.data.Dataset.range(100).batch(4)
            )
        )

    first = elements(distributed, tmp_path, 3, strategy=mirrored)
    with caplog.at_level(logging.WARNING):
        resumed = elements(distributed, tmp_path, 5, strategy=mirrored)
    assert "skipping the 3 elements" in caplog.text
    uninterrupted = elements(
        distributed, tmp_path / "once", 5, strategy=mirrored
    )
    assert first + resumed == uninterrupted
    assert (
        tf.train.load_checkpoint(str(tmp_path)).get_tensor(
            "keras_monitored_input/batch/.ATTRIBUTES/py_state"
        )
        == b"5"
    )


def test_a_checkpoint_without_positions_is_said(tmp_path, caplog):
    km.reset_global_step()
    seen = tf.Variable(0, dtype=tf.int64)
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(seen=seen)),
        hooks=[km.hooks.StopAtStepHook(last_step=2)],
    ) as sess:
        iterator = plain_iterator()
        while not sess.should_stop():
            sess.run(
                lambda batch: {"s": seen.assign_add(1)},
                feed_dict={"batch": iterator},
            )
    with caplog.at_level(logging.WARNING):
        resumed = elements(plain_iterator, tmp_path, 4)
    assert "holds no input position for the feed 'batch'" in caplog.text
    assert resumed == elements(plain_iterator, tmp_path / "fresh", 2)

    # And the other way round: positions saved, checkpoint_input off.
    caplog.clear()
    km.reset_global_step()
    with caplog.at_level(logging.WARNING):
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(seen=seen)),
            hooks=[km.hooks.StopAtStepHook(last_step=5)],
        ) as sess:
            while not sess.should_stop():
                sess.run(lambda: {"s": seen.assign_add(1)})
    assert "runs without checkpoint_input" in caplog.text


def test_reserved_item_name_is_refused():
    with pytest.raises(ValueError, match="keras_monitored_input"):
        km.MonitoredSession(
            session_creator=km.ChiefSessionCreator(
                scaffold=km.Scaffold(
                    checkpoint={"keras_monitored_input": tf.Variable(1.0)}
                )
            )
        )


@pytest.mark.parametrize("async_checkpoint", [False, True])
def test_a_pipeline_tf_cannot_save_is_explained(tmp_path, async_checkpoint):
    def numbers():
        yield from range(100)

    iterator = iter(
        tf.data.Dataset.from_generator(
            numbers, output_signature=tf.TensorSpec((), tf.int64)
        )
    )
    seen = tf.Variable(0, dtype=tf.int64)
    with pytest.raises(RuntimeError) as raised:
        with km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            scaffold=km.Scaffold(checkpoint=tf.train.Checkpoint(seen=seen)),
            save_checkpoint_steps=2,
            checkpoint_input=True,
            async_checkpoint=async_checkpoint,
            hooks=[km.hooks.StopAtStepHook(last_step=5)],
        ) as sess:
            while not sess.should_stop():
                sess.run(
                    lambda x: {"s": seen.assign(x)}, feed_dict={"x": iterator}
                )
    message = str(raised.value)
    assert "model.ckpt-2" in message or "global step 2" in message
    assert "PyFunc is stateful" in message
    assert "Pass checkpoint_input=False (--nocheckpoint_input)" in message
    # The checkpoint before stays the latest, and complete.
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-0")
