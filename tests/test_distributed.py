"""Real tf.distribute strategies: MirroredStrategy over two logical CPUs
in-process, MultiWorkerMirroredStrategy with two worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import portpicker
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.programs import mwms_train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLOBAL_BATCH = 16


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "float32")


def train(
    strategy,
    steps=6,
    distribute=True,
    hooks=(),
    checkpoint_dir=None,
    steps_per_loop=1,
):
    """Trains the same model on the same global batches under `strategy`."""
    with strategy.scope():
        keras.utils.set_random_seed(3)
        model = keras.Sequential(
            [
                keras.Input((3,)),
                keras.layers.Dense(4, activation="tanh"),
                keras.layers.Dense(1),
            ]
        )
        optimizer = keras.optimizers.SGD(0.1)
    x, y = data()
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(GLOBAL_BATCH)
    )
    batches = iter(
        strategy.experimental_distribute_dataset(dataset)
        if distribute
        else dataset
    )

    def step(batch):
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
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return {"loss": tf.reduce_mean(per_example), "replica": replica}

    scaffold = km.Scaffold(
        checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
    )
    losses = []

    class Losses(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs({"loss": "loss", "replica": "replica"})

        def after_run(self, run_context, run_values):
            losses.append(
                (
                    float(run_values.results["loss"]),
                    int(run_values.results["replica"]),
                )
            )

    with km.MonitoredTrainingSession(
        checkpoint_dir=checkpoint_dir,
        scaffold=scaffold,
        save_checkpoint_steps=2 if checkpoint_dir else None,
        save_summaries_steps=None,
        log_step_count_steps=None,
        strategy=strategy,
        steps_per_loop=steps_per_loop,
        hooks=[km.StopAtStepHook(last_step=steps), Losses(), *hooks],
    ) as sess:
        while not sess.should_stop():
            sess.run(step, feed_dict={"batch": batches})
    return model, losses


def test_mirrored_matches_single_device(mirrored):
    single_model, single_losses = train(tf.distribute.get_strategy())
    km.reset_global_step()
    mirrored_model, mirrored_losses = train(mirrored)
    for got, want in zip(
        mirrored_model.get_weights(), single_model.get_weights()
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Hooks see the replicas' losses averaged (= the global batch's loss);
    # the non-floating output comes from the first replica.
    np.testing.assert_allclose(
        [loss for loss, _ in mirrored_losses],
        [loss for loss, _ in single_losses],
        rtol=1e-5,
    )
    assert [r for _, r in mirrored_losses] == [0] * 6
    assert isinstance(km.get_global_step(), tf.distribute.DistributedValues)


def test_only_strategies_spanning_workers_average_inside_the_step(mirrored):
    """In one process the outputs are reduced after the step: no collective
    added inside it (MultiWorkerMirrored: see the multi-worker tests)."""
    from keras_monitored import _step_compiler

    assert not _step_compiler.spans_workers(tf.distribute.get_strategy())
    assert not _step_compiler.spans_workers(mirrored)
    assert not _step_compiler.spans_workers(
        tf.distribute.OneDeviceStrategy("/cpu:0")
    )


def test_mirrored_plain_iterator_feed_and_steps_per_loop(mirrored):
    model, losses = train(mirrored, steps=9, distribute=False, steps_per_loop=4)
    assert (
        km.get_global_step().numpy() == 9 and len(losses) == 3
    )  # runs of 4, 4, 1


def test_mirrored_checkpoint_written_once_and_restored(mirrored, tmp_path):
    saves = []

    class Listener(km.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            saves.append(global_step_value)

    hook = km.CheckpointSaverHook(
        str(tmp_path / "extra"), save_steps=3, listeners=[Listener()]
    )
    model, _ = train(
        mirrored, steps=6, checkpoint_dir=str(tmp_path / "ckpt"), hooks=[hook]
    )
    assert saves == [0, 3, 6]
    files = sorted(os.listdir(tmp_path / "ckpt"))
    assert files == ["checkpoint"] + [
        f"model.ckpt-{s}.{ext}"
        for s in (0, 2, 4, 6)
        for ext in ("data-00000-of-00001", "index", "km_hook_state.json")
    ]
    km.reset_global_step()
    with mirrored.scope():
        restored = keras.Sequential(
            [
                keras.Input((3,)),
                keras.layers.Dense(4, activation="tanh"),
                keras.layers.Dense(1),
            ]
        )
    with km.SingularMonitoredSession(
        scaffold=km.Scaffold(checkpoint={"model": restored}),
        strategy=mirrored,
        checkpoint_dir=str(tmp_path / "ckpt"),
    ):
        for got, want in zip(restored.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(got, want)
        assert km.get_global_step().numpy() == 6


def test_mirrored_step_summaries_are_written_once(mirrored, tmp_path):
    with mirrored.scope():
        weight = tf.Variable(1.0)

    def step():
        tf.summary.scalar("w", weight)
        weight.assign_add(1.0)
        return {}

    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(strategy=mirrored),
        hooks=[
            km.hooks.SummarySaverHook(save_steps=1, output_dir=str(tmp_path))
        ],
    ) as sess:
        for _ in range(3):
            sess.run(step)
    points = [
        (e.step, float(tf.make_ndarray(v.tensor)))
        for p in os.listdir(tmp_path)
        for e in tf.compat.v1.train.summary_iterator(str(tmp_path / p))
        for v in e.summary.value
        if v.tag == "w"
    ]
    # One point per step (not one per replica), the step's own value.
    assert sorted(points) == [(1, 1.0), (2, 2.0), (3, 3.0)]


# -- MultiWorkerMirroredStrategy, real worker processes ----------------------


def run_workers(
    tmp_path,
    run_name,
    *flags,
    kill_worker_at=None,
    worker_flags=(),
    timeout=240,
):
    """Starts two workers on 127.0.0.1; returns their results (or None).
    `worker_flags` go to worker 1 only."""
    ports = [portpicker.pick_unused_port() for _ in range(2)]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    scratch = tmp_path / f"{run_name}_tmp"
    scratch.mkdir()
    processes = []
    for index in range(2):
        env = dict(
            os.environ,
            PYTHONPATH=REPO,
            TF_CPP_MIN_LOG_LEVEL="2",
            TMPDIR=str(scratch),
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        )
        extra = (
            [f"--kill_at_step={kill_worker_at}"]
            if kill_worker_at and index == 1
            else []
        ) + (list(worker_flags) if index == 1 else [])
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(REPO, "tests", "programs", "mwms_train.py"),
                    f"--checkpoint_dir={tmp_path / 'ckpt'}",
                    f"--result_file={tmp_path / f'{run_name}_{index}.json'}",
                    *flags,
                    *extra,
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    finally:
        for process in processes:  # never leave a worker behind
            if process.poll() is None:
                process.kill()
                process.wait()
    return processes, outputs, scratch


def results(tmp_path, run_name):
    return [
        json.loads((tmp_path / f"{run_name}_{i}.json").read_text())
        for i in range(2)
    ]


def only_chief_files(directory):
    names = os.listdir(directory)
    return (
        all(n == "checkpoint" or n.startswith("model.ckpt-") for n in names)
        and names
    )


def checkpoint_steps(directory):
    return sorted(
        int(n[len("model.ckpt-") : -len(".index")])
        for n in os.listdir(directory)
        if n.startswith("model.ckpt-") and n.endswith(".index")
    )


def checkpoint_weights(path):
    """The model weights stored in the checkpoint `path`."""
    model = mwms_train.build_model()
    tf.train.Checkpoint(model=model).restore(
        path
    ).expect_partial().assert_existing_objects_matched()
    return model.get_weights()


def assert_weights(got, want, exact=False):
    assert len(got) == len(want)
    for got_array, want_array in zip(got, want):
        got_array = np.asarray(got_array, np.float32)
        if exact:
            np.testing.assert_array_equal(got_array, want_array)
        else:
            np.testing.assert_allclose(
                got_array, want_array, rtol=1e-4, atol=1e-5
            )


def assert_trained_like_one_process(chief, worker, steps):
    """Both workers hold the weights one process reaches training the same
    global batches from the same start (so the gradients were all-reduced
    and every step applied once), and the same weights to the last bit."""
    assert chief["start_weights"] == worker["start_weights"]
    expected = mwms_train.reference_weights(
        [np.asarray(w, np.float32) for w in chief["start_weights"]], steps
    )
    assert not np.allclose(expected[0], chief["start_weights"][0])  # trained
    assert_weights(chief["weights"], expected)
    assert chief["weights"] == worker["weights"]


@pytest.mark.slow
def test_multi_worker_seconds_checkpoints_loops_and_no_leftovers(tmp_path):
    processes, outputs, scratch = run_workers(
        tmp_path,
        "run",
        "--save_checkpoint_secs=0.05",
        "--last_step=150",
        "--steps_per_loop=7",
    )
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief, worker = results(tmp_path, "run")
    assert chief["start"] == worker["start"] == 0
    assert chief["global_step"] == worker["global_step"] == 150
    assert_trained_like_one_process(chief, worker, 150)
    # Seconds-based saves after creation: both workers saved at the same
    # steps (the chief decided for both, so no collective waited forever),
    # at the end of some 7-step loops during the run, and at the end.
    saves = chief["saves"]
    assert worker["saves"] == saves
    assert saves[-1] == 150 and saves == sorted(set(saves))
    assert saves[:-1] and all(
        0 < step < 150 and step % 7 == 0 for step in saves[:-1]
    ), saves
    ckpt = tmp_path / "ckpt"
    assert checkpoint_steps(ckpt) == saves[-5:]  # max_to_keep=5
    assert_weights(
        checkpoint_weights(str(ckpt / "model.ckpt-150")),
        chief["weights"],
        exact=True,
    )
    assert only_chief_files(ckpt)
    assert os.listdir(scratch) == []  # the worker's scratch saves are gone


@pytest.mark.slow
def test_multi_worker_chief_only_hooks_and_a_session_inside_the_scope(tmp_path):
    """The chief alone sums steps and writes summaries (its loops come out
    shorter), a chief-only hook stops the run, the session lives inside
    strategy.scope(): every worker still runs the same collectives."""
    processes, outputs, scratch = run_workers(
        tmp_path,
        "run",
        "--save_checkpoint_steps=10",
        "--last_step=100",
        "--steps_per_loop=7",
        "--save_summaries_steps=5",
        "--log_step_count_steps=5",
        "--chief_stops_at=33",
        "--in_scope",
        timeout=180,
    )
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief, worker = results(tmp_path, "run")
    assert chief["global_step"] == worker["global_step"] == 33
    assert_trained_like_one_process(chief, worker, 33)
    assert os.listdir(scratch) == []
    events = [
        n for n in os.listdir(tmp_path / "ckpt") if n.startswith("events.out")
    ]
    assert events and all(
        n == "checkpoint" or n.startswith(("model.ckpt-", "events.out"))
        for n in os.listdir(tmp_path / "ckpt")
    )


@pytest.mark.slow
def test_multi_worker_kill_a_worker_then_restart_both(tmp_path):
    processes, outputs, _ = run_workers(
        tmp_path,
        "killed",
        "--save_checkpoint_steps=10",
        "--last_step=40",
        kill_worker_at=25,
    )
    assert processes[1].returncode == -9
    # The chief sees the peer fail and exits at once: no in-process retries,
    # which cannot succeed once TF aborted the collectives.
    assert processes[0].returncode != 0 and "a peer worker failed" in outputs[0]
    assert "Recreating the session" not in outputs[0]
    last = tf.train.latest_checkpoint(str(tmp_path / "ckpt"))
    assert last.endswith("model.ckpt-20")
    # The checkpoint holds what 20 steps from the killed run's start give.
    killed_chief, _ = results(tmp_path, "killed")
    saved = checkpoint_weights(last)
    assert_weights(
        saved,
        mwms_train.reference_weights(
            [np.asarray(w, np.float32) for w in killed_chief["start_weights"]],
            20,
        ),
    )

    processes, outputs, _ = run_workers(
        tmp_path, "restarted", "--save_checkpoint_steps=10", "--last_step=40"
    )
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief, worker = results(tmp_path, "restarted")
    # Both restored the chief's last checkpoint: its step and its values.
    assert chief["start"] == worker["start"] == 20
    assert_weights(chief["start_weights"], saved, exact=True)
    assert_weights(worker["start_weights"], saved, exact=True)
    # Then 20 more steps (a fresh input pipeline: from the first batch).
    assert chief["global_step"] == worker["global_step"] == 40
    assert_trained_like_one_process(chief, worker, 20)
    assert only_chief_files(tmp_path / "ckpt")


def test_multi_worker_sigterm_to_one_worker_stops_both_at_its_step(tmp_path):
    """A real SIGTERM reaches worker 1 only, after step 13: both workers
    finish that step, agree to stop, save it together (the chief's files)
    and exit with km.PREEMPTED_EXIT_CODE."""
    processes, outputs, _ = run_workers(
        tmp_path,
        "preempted",
        "--save_checkpoint_steps=1000",
        "--last_step=1000",
        worker_flags=["--term_at_step=13"],
    )
    for process, output in zip(processes, outputs):
        assert process.returncode == km.PREEMPTED_EXIT_CODE, output[-3000:]
    chief, worker = results(tmp_path, "preempted")
    assert chief["preempted"] and worker["preempted"]
    assert chief["global_step"] == worker["global_step"] == 13
    assert chief["saves"][-1] == 13
    last = tf.train.latest_checkpoint(str(tmp_path / "ckpt"))
    assert last.endswith("model.ckpt-13")
    assert_weights(checkpoint_weights(last), chief["weights"], exact=True)
    assert_trained_like_one_process(chief, worker, 13)
    assert only_chief_files(tmp_path / "ckpt")


def test_multi_worker_losses_are_averaged_over_every_worker(tmp_path):
    """Each worker computes its loss on its own half of the global batch;
    the session returns (and hooks see) the mean over both workers' replicas:
    on both workers the same value, the whole global batch's loss, which one
    process computes from the same start. A non-chief worker's log says where
    its part of each save really goes."""
    processes, outputs, scratch = run_workers(
        tmp_path, "losses", "--save_checkpoint_steps=3", "--last_step=6"
    )
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief, worker = results(tmp_path, "losses")
    # Float outputs: identical on both workers, to the last bit; the int
    # output is each worker's own (its first local replica's id).
    assert [r[:4] for r in chief["losses"]] == [r[:4] for r in worker["losses"]]
    assert [r[4] for r in chief["losses"]] == [0] * 6
    assert [r[4] for r in worker["losses"]] == [1] * 6
    assert [(step, runs) for step, runs, *_ in chief["losses"]] == [
        (step, 1) for step in range(1, 7)
    ]
    _, expected = mwms_train.reference_run(
        [np.asarray(w, np.float32) for w in chief["start_weights"]], 6
    )
    np.testing.assert_allclose(
        [r[2] for r in chief["losses"]], expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        [r[3] for r in chief["losses"]], expected, rtol=1e-5
    )
    # The worker saves into a scratch directory, and says so.
    assert (
        f"Saving checkpoints for 6 into a scratch directory under {scratch}"
        in outputs[1]
    ), outputs[1][-3000:]
    assert f"Saving checkpoints for 6 into {tmp_path / 'ckpt'}" in outputs[0]


def test_multi_worker_checkpoint_input_resumes_the_distributed_input(tmp_path):
    """With --checkpoint_input, a restarted job's distributed iterators skip
    the batches the checkpoint had consumed: 10 steps, a restart, 10 more
    end where 20 uninterrupted steps over the same batches end."""
    for name, last_step in (("first", 10), ("second", 20)):
        processes, outputs, _ = run_workers(
            tmp_path,
            name,
            "--save_checkpoint_steps=5",
            f"--last_step={last_step}",
            "--checkpoint_input",
        )
        for process, output in zip(processes, outputs):
            assert process.returncode == 0, output[-3000:]
    first_chief, _ = results(tmp_path, "first")
    chief, worker = results(tmp_path, "second")
    assert chief["start"] == worker["start"] == 10
    expected = mwms_train.reference_weights(
        [np.asarray(w, np.float32) for w in first_chief["start_weights"]], 20
    )
    assert_weights(chief["weights"], expected)
    assert chief["weights"] == worker["weights"]


# -- TPU: what can be checked without one ------------------------------------


def test_a_master_address_outside_tpu_is_reported_with_the_tpu_recipe(
    caplog, mirrored
):
    import logging

    caplog.set_level(logging.WARNING)
    with km.MonitoredTrainingSession(
        master="grpc://10.0.0.2:8470", strategy=mirrored
    ) as sess:
        sess.run(lambda: {})
    assert (
        "master='grpc://10.0.0.2:8470' has no meaning in TF2 outside TPUStrategy"
        in caplog.text
    )
    assert "km.distribute.tpu_strategy(master)" in caplog.text


def test_tpu_strategy_rejects_a_non_string_address():
    with pytest.raises(TypeError, match="tpu=8470"):
        km.distribute.tpu_strategy(8470)


def test_a_distributed_dataset_can_be_fed_directly(mirrored):
    dataset = mirrored.experimental_distribute_dataset(
        tf.data.Dataset.range(8).batch(4)
    )

    def step(batch):
        return {"sum": tf.cast(tf.reduce_sum(batch), tf.float32)}

    sums = []
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(strategy=mirrored)
    ) as sess:
        while not sess.should_stop():
            sums.append(
                float(sess.run(step, feed_dict={"batch": dataset})["sum"])
            )
    # Each replica sums its half of the batch; the outputs are averaged.
    assert sums == [(0 + 1 + 2 + 3) / 2, (4 + 5 + 6 + 7) / 2]
