"""MonitoredSession lifecycle, feeds, run_step_fn and recovery."""

from __future__ import annotations

import os
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from keras_monitored._recovery import RecoveryOptions

tf1 = tf.compat.v1


class Calls(km.SessionRunHook):
    def __init__(self, log):
        self.log = log

    def begin(self):
        self.log.append("begin")

    def after_create_session(self, session, coord):
        self.log.append(f"create@{int(session.run('global_step'))}")

    def before_run(self, run_context):
        self.log.append("before")

    def after_run(self, run_context, run_values):
        self.log.append("after")

    def end(self, session):
        self.log.append(f"end@{int(session.run('global_step'))}")


def counter_step():
    return {"one": tf.constant(1.0)}


def test_global_step_advances_inside_the_step_and_not_on_failure():
    def step(fail):
        tf.debugging.assert_equal(fail, False)
        return {}

    with km.SingularMonitoredSession() as sess:
        sess.run(step, feed_dict={"fail": False})
        sess.run(step, feed_dict={"fail": False})
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(step, feed_dict={"fail": True})
        assert sess.raw_session().run("global_step") == 2
        assert km.get_global_step().numpy() == 2


def test_legacy_lookup_finds_the_same_global_step():
    with km.SingularMonitoredSession():
        assert tf1.train.get_global_step() is km.get_global_step()
        assert km.get_global_step().dtype == tf.int64


def test_scaffold_global_step_is_advanced_by_the_step_itself():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.ones((2, 1))) ** 2)
        optimizer.apply_gradients(
            zip(
                tape.gradient(loss, model.trainable_variables),
                model.trainable_variables,
            )
        )
        return {"loss": loss}

    scaffold = km.Scaffold(global_step=optimizer.iterations)
    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(scaffold=scaffold),
        hooks=[km.StopAtStepHook(last_step=3)],
    ) as sess:
        while not sess.should_stop():
            sess.run(step)
    assert int(optimizer.iterations.numpy()) == 3
    assert km.get_global_step() is None  # the session did not create its own


def test_iterator_feed_runs_out_and_with_block_ends_cleanly():
    log = []
    iterator = iter(
        tf.data.Dataset.range(3).map(lambda i: tf.cast(i, tf.float32))
    )
    values = []
    with km.MonitoredSession(hooks=[Calls(log)]) as sess:
        while not sess.should_stop():
            values.append(
                float(
                    sess.run(lambda x: {"x": x * 2}, feed_dict={"x": iterator})[
                        "x"
                    ]
                )
            )
    assert values == [0.0, 2.0, 4.0]
    # The failed 4th run has before_run but no after_run; end sees step 3.
    assert log == ["begin", "create@0"] + ["before", "after"] * 3 + [
        "before",
        "end@3",
    ]
    assert sess.should_stop()


def test_python_iterator_feed_is_advanced_on_the_host():
    batches = iter([np.float32(1.5), np.float32(2.5)])
    outputs = []
    with km.MonitoredSession() as sess:
        while not sess.should_stop():
            outputs.append(
                float(
                    sess.run(lambda x: {"y": x + 1}, feed_dict={"x": batches})[
                        "y"
                    ]
                )
            )
    assert outputs == [2.5, 3.5]


def test_new_feed_values_do_not_retrace():
    traces = []

    def step(scale):
        traces.append(1)
        return {"y": scale * 2.0}

    with km.SingularMonitoredSession() as sess:
        results = [
            float(sess.run(step, feed_dict={"scale": float(v)})["y"])
            for v in range(5)
        ]
    assert results == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert len(traces) == 1


def test_exception_in_step_skips_end_and_propagates():
    log = []

    def bad_step():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        with km.MonitoredSession(hooks=[Calls(log)]) as sess:
            sess.run(counter_step)
            sess.run(bad_step)
    assert log == ["begin", "create@0", "before", "after", "before"]


def test_close_twice_and_run_after_close_raise_runtime_error():
    sess = km.MonitoredSession()
    sess.run(counter_step)
    sess.close()
    assert sess.should_stop()
    with pytest.raises(RuntimeError, match="Session is already closed."):
        sess.close()
    with pytest.raises(RuntimeError, match="closed session"):
        sess.run(counter_step)


def test_feed_dict_with_a_read_is_a_type_error():
    with km.SingularMonitoredSession() as sess:
        with pytest.raises(
            TypeError, match="applies only when `fetches` is a step function"
        ):
            sess.run("global_step", feed_dict={"x": 1})


def test_placeholder_like_feed_key_is_a_type_error():
    with km.SingularMonitoredSession() as sess:
        with pytest.raises(
            TypeError,
            match=r"Invalid value for argument `feed_dict`\. Received: .*"
            r"Expected keys naming the step function's keyword arguments",
        ):
            sess.run(counter_step, feed_dict={tf.constant(1.0).ref(): 2.0})


def test_run_step_fn_with_raw_session_and_hooks():
    log = []

    def step_fn(step_context):
        step_context.session.run(counter_step)  # a raw step: no hooks
        result = step_context.run_with_hooks(counter_step)
        if step_context.session.run("global_step") >= 4:
            step_context.request_stop()
        return result

    with km.MonitoredSession(hooks=[Calls(log)]) as sess:
        while not sess.should_stop():
            sess.run_step_fn(step_fn)
    assert log == [
        "begin",
        "create@0",
        "before",
        "after",
        "before",
        "after",
        "end@4",
    ]


def test_run_step_fn_accepts_method_with_self():
    class Runner:
        def step(self, step_context):
            return step_context.run_with_hooks(counter_step)

    with km.SingularMonitoredSession() as sess:
        assert sess.run_step_fn(Runner().step) == {"one": 1.0}


def test_recovery_from_aborted_error_raised_while_running(tmp_path):
    """A feed that fails the way a remote input service does, once."""
    log = []

    def batches():
        yield np.float32(1.0)
        raise tf.errors.AbortedError(None, None, "input worker restarted")

    class Restartable:
        def __init__(self):
            self.inner = batches()

        def __iter__(self):
            return self

        def __next__(self):
            try:
                return next(self.inner)
            except tf.errors.AbortedError:
                self.inner = batches()
                raise

    weight = tf.Variable(1.0)

    def step(x):
        weight.assign_add(x)
        return {"w": weight.read_value()}

    creator = km.ChiefSessionCreator(
        scaffold=km.Scaffold(checkpoint={"w": weight}),
        checkpoint_dir=str(tmp_path),
    )
    hooks = [km.CheckpointSaverHook(str(tmp_path), save_steps=100), Calls(log)]
    feed = Restartable()
    with km.MonitoredSession(session_creator=creator, hooks=hooks) as sess:
        assert sess.run(step, feed_dict={"x": feed}) == {"w": 2.0}
        # Aborts, recreates the session (restoring w=1 from step 0), retries.
        assert sess.run(step, feed_dict={"x": feed}) == {"w": 2.0}
    assert log == [
        "begin",
        "create@0",
        "before",
        "after",
        "before",
        "create@0",
        "before",
        "after",
        "end@1",
    ]


def test_recovery_gives_up_after_max_attempts():
    log = []

    class AlwaysAbort(km.SessionRunHook):
        def after_run(self, run_context, run_values):
            raise tf.errors.UnavailableError(None, None, "still down")

    waits = []

    class FastSession(km.MonitoredSession):
        recovery_options = RecoveryOptions(
            max_attempts=3, backoff_secs=0.5, sleep=waits.append
        )

    with pytest.raises(tf.errors.UnavailableError, match="still down"):
        with FastSession(hooks=[Calls(log), AlwaysAbort()]) as sess:
            sess.run(counter_step)
    # No checkpoint: each recreated session keeps the variables (and the
    # global step the failed run had reached); the 4th failure is re-raised.
    assert log == [
        "begin",
        "create@0",
        "before",
        "after",
        "create@1",
        "before",
        "after",
        "create@2",
        "before",
        "after",
        "create@3",
        "before",
        "after",
    ]
    assert waits == [0.5, 1.0]  # none before the first retry, then doubling


def test_singular_session_does_not_recover():
    class Abort(km.SessionRunHook):
        def after_run(self, run_context, run_values):
            raise tf.errors.AbortedError(None, None, "aborted")

    with pytest.raises(tf.errors.AbortedError):
        with km.SingularMonitoredSession(hooks=[Abort()]) as sess:
            sess.run(counter_step)


def test_coordinator_threads_are_joined_and_their_errors_raised():
    stopped = threading.Event()

    class ThreadHook(km.SessionRunHook):
        def after_create_session(self, session, coord):
            def work():
                coord.wait_for_stop()
                stopped.set()

            thread = threading.Thread(target=work, daemon=True)
            coord.register_thread(thread)
            thread.start()
            self.coord = coord

    hook = ThreadHook()
    with km.MonitoredSession(hooks=[hook]) as sess:
        sess.run(counter_step)
    assert stopped.wait(5)

    hook = ThreadHook()
    sess = km.SingularMonitoredSession(hooks=[hook])
    try:
        raise ValueError("thread failed")
    except ValueError as error:
        hook.coord.request_stop(error)  # what a failing hook thread does
    with pytest.raises(ValueError, match="thread failed"):
        sess.should_stop()


def test_tf1_session_creator_and_scaffold_are_translated(tmp_path):
    weight = tf.Variable(3.0)
    ckpt = tf.train.Checkpoint(w=weight)
    calls = []
    tf1_scaffold = tf1.train.Scaffold(
        saver=ckpt, init_fn=lambda scaffold, session: calls.append(session)
    )
    creator = tf1.train.ChiefSessionCreator(
        scaffold=tf1_scaffold, checkpoint_dir=str(tmp_path)
    )
    with km.MonitoredSession(
        session_creator=creator,
        hooks=[km.CheckpointSaverHook(str(tmp_path), save_steps=1)],
    ) as sess:
        sess.run(counter_step)
    assert len(calls) == 1 and isinstance(calls[0], km.StepSession)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))
    assert reader.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE") == 3.0


def test_run_options_are_merged_with_tf1s_rules():
    seen = []
    first_options = tf1.RunOptions(
        timeout_in_ms=5, report_tensor_allocations_upon_oom=True
    )
    second_options = tf1.RunOptions(
        trace_level=tf1.RunOptions.FULL_TRACE, timeout_in_ms=99
    )

    class Asks(km.SessionRunHook):
        def __init__(self, options):
            self.options = options

        def before_run(self, run_context):
            return km.SessionRunArgs(None, options=self.options)

        def after_run(self, run_context, run_values):
            seen.append(run_values)

    caller = tf1.RunOptions(timeout_in_ms=50, inter_op_thread_pool=2)
    with km.MonitoredSession(
        hooks=[Asks(first_options), Asks(second_options)]
    ) as sess:
        sess.run(counter_step, options=caller)
    merged = seen[0].options
    assert (
        seen[1].options is merged and merged is caller
    )  # TF1 merged into the caller's
    assert merged.trace_level == tf1.RunOptions.FULL_TRACE  # max
    assert (
        merged.timeout_in_ms == 99 and merged.inter_op_thread_pool == 2
    )  # max
    assert merged.report_tensor_allocations_upon_oom  # or
    assert (
        type(seen[0].run_metadata).__name__ == "RunMetadata"
        and seen[0].results is None
    )
    # The hooks' own objects are untouched.
    assert first_options.timeout_in_ms == 5 and first_options.trace_level == 0
    assert (
        second_options.timeout_in_ms == 99
        and not second_options.report_tensor_allocations_upon_oom
    )


def test_a_lambda_recreated_each_iteration_compiles_once():
    traces = []
    weight = tf.Variable(0.0)

    def body(amount):
        traces.append(1)
        return {"w": weight.assign_add(amount)}

    other = tf.Variable(100.0)
    with km.SingularMonitoredSession() as sess:
        for _ in range(5):
            sess.run(lambda: body(1.0))
        assert weight.numpy() == 5.0 and len(traces) == 1
        # Same code over other captured objects is another function.
        for target in (weight, other):
            sess.run(lambda: {"v": target.assign_add(1.0)})
        assert weight.numpy() == 6.0 and other.numpy() == 101.0


_BATCH = None
_STEP_ON_GLOBAL_BATCH = lambda: {"x": tf.identity(_BATCH)}  # noqa: E731


def test_a_step_reading_a_changed_global_is_not_served_a_stale_trace():
    global _BATCH
    seen = []
    with km.SingularMonitoredSession() as sess:
        for value in (1.0, 10.0, 100.0):
            _BATCH = tf.constant(value)
            seen.append(float(sess.run(_STEP_ON_GLOBAL_BATCH)["x"]))
    assert seen == [1.0, 10.0, 100.0]


def test_preemption_reported_by_a_hook_thread_recreates_the_session():
    log = []

    class ReportsPreemption(km.SessionRunHook):
        def after_create_session(self, session, coord):
            self.coord = coord
            log.append("created")

        def after_run(self, run_context, run_values):
            if len(log) == 1 and run_context.session.run("global_step") == 2:
                try:
                    raise tf.errors.UnavailableError(None, None, "ps went away")
                except tf.errors.UnavailableError as error:
                    self.coord.request_stop(error)

    with km.MonitoredSession(hooks=[ReportsPreemption()]) as sess:
        runs = 0
        while not sess.should_stop() and runs < 4:
            sess.run(counter_step)
            runs += 1
    assert log == ["created", "created"] and runs == 4


def test_a_dataset_fed_directly_continues_after_recovery():
    fired = []

    class AbortOnce(km.SessionRunHook):
        def after_run(self, run_context, run_values):
            if not fired:
                fired.append(1)
                raise tf.errors.AbortedError(None, None, "preempted")

    dataset = tf.data.Dataset.range(5)
    seen = []
    with km.MonitoredSession(hooks=[AbortOnce()]) as sess:
        while not sess.should_stop():
            seen.append(
                int(sess.run(lambda x: {"x": x}, feed_dict={"x": dataset})["x"])
            )
    # Element 0 was consumed by the run that failed; nothing is replayed.
    assert seen == [1, 2, 3, 4]


def test_the_global_step_seen_by_hooks_follows_the_variable_across_sessions():
    seen = []

    class Steps(km.SessionRunHook):
        def before_run(self, run_context):
            return km.SessionRunArgs("global_step")

        def after_run(self, run_context, run_values):
            seen.append(int(run_values.results))

    training = km.MonitoredSession(hooks=[Steps()])
    for _ in range(3):
        training.run(counter_step)
    with (
        km.SingularMonitoredSession() as other
    ):  # shares the process's global step
        other.run(counter_step)
        other.run(counter_step)
    training.run(counter_step)
    training.close()
    assert seen == [1, 2, 3, 6] and km.get_global_step().numpy() == 6


def test_run_step_fn_is_retried_after_a_preemption():
    log = []
    attempts = []

    def step_fn(step_context):
        attempts.append(step_context)
        result = step_context.run_with_hooks(counter_step)
        if len(attempts) == 1:
            raise tf.errors.UnavailableError(
                None, None, "lost the parameter server"
            )
        return result

    with km.MonitoredSession(hooks=[Calls(log)]) as sess:
        assert sess.run_step_fn(step_fn) == {"one": 1.0}
    # A new StepContext, after_create_session again, then the whole step_fn.
    assert len(attempts) == 2 and attempts[0] is not attempts[1]
    assert attempts[0].session is not attempts[1].session
    assert log == [
        "begin",
        "create@0",
        "before",
        "after",
        "create@1",
        "before",
        "after",
        "end@2",
    ]


def test_tf1_worker_session_creator_is_translated_and_raw_session_ends_with_close(
    tmp_path,
):
    creator = tf1.train.WorkerSessionCreator(max_wait_secs=3)
    saver = km.CheckpointSaverHook(str(tmp_path), save_steps=1)
    with km.MonitoredSession(session_creator=creator, hooks=[saver]) as sess:
        assert sess.run(counter_step) == {"one": 1.0}
        assert sess.run("global_step") == 1
    assert os.listdir(tmp_path) == []  # a worker: only the chief saves
    singular = km.SingularMonitoredSession()
    assert isinstance(singular.raw_session(), km.StepSession)
    singular.close()
    assert singular.raw_session() is None


def test_worker_waits_for_the_chiefs_first_checkpoint(tmp_path):
    weight = tf.Variable(0.0)
    scaffold = km.Scaffold(checkpoint={"w": weight})

    def chief_saves_later():
        time.sleep(1.5)
        chief = tf.train.Checkpoint(
            w=tf.Variable(4.0), global_step=tf.Variable(7, dtype=tf.int64)
        )
        tf.train.CheckpointManager(
            chief, str(tmp_path), 5, checkpoint_name="model.ckpt"
        ).save(7)

    thread = threading.Thread(target=chief_saves_later)
    thread.start()
    started = time.monotonic()
    creator = km.WorkerSessionCreator(
        scaffold=scaffold, max_wait_secs=60, checkpoint_dir=str(tmp_path)
    )
    with km.MonitoredSession(session_creator=creator) as sess:
        waited = time.monotonic() - started
        assert weight.numpy() == 4.0 and sess.run("global_step") == 7
    thread.join()
    assert 1.0 < waited < 30
