"""TF1 MonitoredTrainingSession vs km with MTS's default hooks on: the
default StepCounterHook, SummarySaverHook and CheckpointSaverHook where TF1
puts them, every variable of every checkpoint, the summaries read back from
both event files, init_fn, restarts, recovery with a save in the failing
phase, and km's multi-step loops against TF1's single steps."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tests.differential import (
    AbortOnce,
    CheckpointWatcher,
    UnavailableBeforeRun,
    all_checkpoint_values,
    check_scenario,
    checkpoint_steps,
    loop_until_stop,
    outcome_of,
    plain,
    read_summaries,
    summary_kinds,
)

tf1 = tf.compat.v1


def _files_and_summaries(program, checkpoint_dir, summary_dir=None):
    """What the files say once the session is over."""
    program.close_summary_writers()
    return {
        "files": checkpoint_steps(checkpoint_dir),
        "summaries": read_summaries(summary_dir or checkpoint_dir),
    }


def default_hooks_every_n_steps(program, tmp_path):
    """Checkpoints every 3 steps, summaries every 2, global_step/sec every
    3; the user's watcher (after the default saver) sees each checkpoint in
    the phase that wrote it, including the final one in `end`."""
    trace = []
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(trace, directory)
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=3,
        save_summaries_steps=2,
        log_step_count_steps=3,
        hooks=[
            program.recorder(trace),
            watcher,
            program.stop_at_step(last_step=7),
        ],
    ) as sess:
        loop_until_stop(program, sess)
    return {
        "trace": trace,
        "checkpoints": watcher.contents,
        **_files_and_summaries(program, directory),
    }


def all_defaults_with_checkpoint_dir(program, tmp_path):
    """Only `checkpoint_dir`: TF1's USE_DEFAULT rules (checkpoints every 600
    s, summaries every 100 steps, global_step/sec every 100 steps): a
    checkpoint at creation and at the end, summaries at step 1 only; a hook's
    `end` sees the final checkpoint (the default saver is before `hooks`)."""
    trace = []
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(trace, directory)
    with program.session(
        all_defaults=True,
        checkpoint_dir=directory,
        hooks=[watcher, program.stop_at_step(last_step=5)],
    ) as sess:
        loop_until_stop(program, sess)
    return {
        "trace": trace,
        "checkpoints": watcher.contents,
        **_files_and_summaries(program, directory),
    }


def chief_only_hooks_before_default_saver(program, tmp_path):
    """chief_only_hooks run before the default hooks, `hooks` after: a
    chief-only watcher sees a checkpoint one phase after the user's."""
    trace = []
    directory = str(tmp_path)
    program.build()
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=2,
        chief_only_hooks=[CheckpointWatcher(trace, directory, "chief")],
        hooks=[
            CheckpointWatcher(trace, directory, "user"),
            program.stop_at_step(last_step=5),
        ],
    ) as sess:
        loop_until_stop(program, sess)
    return {"trace": trace, "files": checkpoint_steps(directory)}


def summaries_in_summary_dir(program, tmp_path):
    """`summary_dir` apart from `checkpoint_dir`: the step's summaries and
    global_step/sec go there, every 3 and every 2 steps."""
    checkpoint_dir = str(tmp_path / "checkpoints")
    summary_dir = str(tmp_path / "summaries")
    program.build()
    with program.session(
        checkpoint_dir=checkpoint_dir,
        summary_dir=summary_dir,
        save_checkpoint_steps=4,
        save_summaries_steps=3,
        log_step_count_steps=2,
        hooks=[program.stop_at_step(last_step=8)],
    ) as sess:
        loop_until_stop(program, sess)
    result = _files_and_summaries(program, checkpoint_dir, summary_dir)
    # Hook-written scalars are TF1 simple_values (contract section 5); the
    # step's own tf.summary calls are TF1 simple_values in TF1 and TF2
    # tensor summaries in km (read_summaries reads both).
    result["global_step/sec kinds"] = sorted(
        summary_kinds(summary_dir)["global_step/sec"]
    )
    return result


def every_variable_at_every_save(program, tmp_path):
    """A checkpoint at every step: eight saves, every variable of each (read
    when it appears), and the five the retention keeps."""
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(None, directory)
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=1,
        hooks=[watcher, program.stop_at_step(last_step=7)],
    ) as sess:
        loop_until_stop(program, sess)
    return {
        "checkpoints": watcher.contents,
        "files": checkpoint_steps(directory),
        "kept": all_checkpoint_values(directory),
    }


def restart_restores_every_variable(program, tmp_path):
    """A run to step 5, then a new program on the same directory: the
    restore brings back every variable (seen in after_create_session), the
    run goes on; summaries from both runs, SessionLog.START at each."""
    trace = []
    directory = str(tmp_path)

    def run(name, stop):
        program.build()
        with program.session(
            checkpoint_dir=directory,
            save_checkpoint_steps=2,
            save_summaries_steps=2,
            hooks=[program.recorder(trace, name), program.stop_at_step(**stop)],
        ) as sess:
            loop_until_stop(program, sess)

    run("first", {"last_step": 5})
    if program.kind == "tf1":
        program.__init__()  # TF1: a new program is a new graph
    run("second", {"num_steps": 3})
    return {
        "trace": trace,
        "kept": all_checkpoint_values(directory),
        **_files_and_summaries(program, directory),
    }


def init_fn_on_fresh_start_only(program, tmp_path):
    """Scaffold(init_fn=...) runs after begin, before after_create_session,
    when nothing was restored; a restart restores instead and does not run
    it."""
    trace = []
    directory = str(tmp_path)

    def run(name, stop):
        program.build()
        with program.session(
            checkpoint_dir=directory,
            save_checkpoint_steps=2,
            scaffold=program.scaffold(init_fn=program.init_fn(trace)),
            hooks=[program.recorder(trace, name), program.stop_at_step(**stop)],
        ) as sess:
            loop_until_stop(program, sess)

    run("first", {"last_step": 3})
    if program.kind == "tf1":
        program.__init__()
    run("second", {"num_steps": 2})
    return {"trace": trace, "kept": all_checkpoint_values(directory)}


def init_fn_without_checkpoint_dir(program, tmp_path):
    """init_fn without a checkpoint_dir: the values it assigns train on."""
    trace = []
    program.build()
    with program.session(
        scaffold=program.scaffold(init_fn=program.init_fn(trace)),
        hooks=[program.recorder(trace), program.stop_at_step(num_steps=3)],
    ) as sess:
        loop_until_stop(program, sess)
    return trace, "ok"


def recovery_after_save_in_same_phase(program, tmp_path):
    """AbortedError from a hook's after_run at step 4, after the default
    saver wrote checkpoint 4 in the same phase: the session restores step 4
    (not 2) and goes on with step 5; the watcher sees checkpoint 4 before
    the failure.

    TF1's recreated session saves checkpoint 4 again in after_create_session;
    km skips that save of the step it just restored (docs/tf1_to_tf2.md,
    Checkpoints: "the creation-time save is skipped when the session has
    just restored that very step"): the same files, so nothing here sees
    it."""
    trace = []
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(trace, directory)
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=2,
        hooks=[
            program.recorder(trace),
            watcher,
            program.hook_in_graph(lambda: AbortOnce(program.step_fetch(), 4)),
            program.stop_at_step(last_step=6),
        ],
    ) as sess:
        loop_until_stop(program, sess)
    return {
        "trace": trace,
        "checkpoints": watcher.contents,
        "files": checkpoint_steps(directory),
    }


def recovery_from_unavailable_in_before_run(program, tmp_path):
    """UnavailableError from a hook's before_run when the global step is 3
    (checkpoints every 2): no step runs, the session restores step 2 and
    retries the call, before_run again for every hook, and the call returns
    the retried step's outputs. Five calls: the retried one counts once."""
    trace = []
    directory = str(tmp_path)
    program.build()
    returned = []
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=2,
        hooks=[
            program.recorder(trace),
            program.hook_in_graph(
                lambda: UnavailableBeforeRun(program.global_step_fetch(), 3)
            ),
        ],
    ) as sess:
        for _ in range(5):
            returned.append(plain(program.run(sess)))
    return {
        "trace": trace,
        "returned": returned,
        "kept": all_checkpoint_values(directory),
    }


def out_of_range_saves_last_completed_step(program, tmp_path):
    """Input of 5 examples: the sixth run raises OutOfRangeError (no
    after_run), the context manager ends the session cleanly and the default
    saver's end writes the checkpoint of step 5, the last completed step."""
    trace = []
    directory = str(tmp_path)
    program.build(num_examples=5)
    watcher = CheckpointWatcher(trace, directory)
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=2,
        save_summaries_steps=2,
        hooks=[program.recorder(trace), watcher],
    ) as sess:
        loop_until_stop(program, sess)
    return {
        "trace": trace,
        "checkpoints": watcher.contents,
        **_files_and_summaries(program, directory),
    }


def failed_step_skips_end_save(program, tmp_path):
    """An assertion fails in the step that would reach step 4: no after_run,
    no end, so no final checkpoint; the error propagates."""
    trace = []
    directory = str(tmp_path)
    program.build(fail_at=4)

    def body():
        with program.session(
            checkpoint_dir=directory,
            save_checkpoint_steps=2,
            hooks=[
                program.recorder(trace),
                CheckpointWatcher(trace, directory),
            ],
        ) as sess:
            loop_until_stop(program, sess)

    # The messages name a graph op (TF1) or a tf.function op (km): the type
    # is compared.
    outcome = outcome_of(body)[0]
    return {
        "trace": trace,
        "outcome": outcome,
        "kept": all_checkpoint_values(directory),
    }


def hook_error_after_save(program, tmp_path):
    """A ValueError from a hook after the default saver wrote checkpoint 4 in
    the same after_run: the file stays, no end (no final save), the error
    propagates with its message."""
    trace = []
    directory = str(tmp_path)
    program.build()

    def body():
        with program.session(
            checkpoint_dir=directory,
            save_checkpoint_steps=2,
            hooks=[
                program.recorder(trace),
                CheckpointWatcher(trace, directory),
                program.hook_in_graph(
                    lambda: AbortOnce(
                        program.step_fetch(),
                        4,
                        lambda: ValueError("hook failed at step 4"),
                    )
                ),
            ],
        ) as sess:
            loop_until_stop(program, sess, max_runs=6)

    outcome = outcome_of(body)
    return {
        "trace": trace,
        "outcome": outcome,
        "kept": all_checkpoint_values(directory),
    }


def reads_between_steps_with_default_hooks(program, tmp_path):
    """The TF1 idiom of a read after each step (`sess.run(global_step)`:
    hooks run around it, no step), with MTS's default hooks: the same
    checkpoints, reads, global_step/sec steps and summary values.

    The summary schedule differs by contract: DESIGN.md section 4
    (Summaries) records the step's summaries "on the first step and then
    every `save_summaries_steps`" -- km: 1, 3, 5, 7. TF1's SummarySaverHook
    counts every run as a step (its next step is the run's stale global
    step + 1, also for a read), so with a read between steps it writes a
    summary at every step. Both schedules are checked here, and the values
    compared at the steps both write.
    """
    trace = []
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(trace, directory)
    reads = []
    with program.session(
        checkpoint_dir=directory,
        save_checkpoint_steps=3,
        save_summaries_steps=2,
        log_step_count_steps=3,
        hooks=[watcher, program.stop_at_step(last_step=7)],
    ) as sess:
        while not sess.should_stop():
            program.run(sess)
            if not sess.should_stop():
                reads.append(program.read(sess)["step"])
    result = {
        "trace": trace,
        "checkpoints": watcher.contents,
        "reads": reads,
        **_files_and_summaries(program, directory),
    }
    step_summaries = {
        step for tag, step, _ in result["summaries"] if tag == "loss"
    }
    documented = {
        "tf1": {1, 2, 3, 4, 5, 6, 7},  # every step (read runs counted)
        "km": {1, 3, 5, 7},  # first step, then every 2 steps
    }
    assert step_summaries == documented[program.kind], step_summaries
    result["summaries"] = [
        item
        for item in result["summaries"]
        if item[0] not in ("loss", "prediction") or item[1] in documented["km"]
    ]
    return result


def steps_per_loop_input_runs_out(program, tmp_path):
    """km: steps_per_loop=4 with 6 examples; the loop that runs out has
    completed 2 steps: the global step counts them, OutOfRangeError ends the
    session cleanly and the final checkpoint is step 6, as TF1's after its
    seventh run failed."""
    directory = str(tmp_path)
    program.build(num_examples=6)
    watcher = CheckpointWatcher(None, directory)
    final, runs = [], []
    with program.session(
        steps_per_loop=4,
        checkpoint_dir=directory,
        save_checkpoint_steps=4,
        save_summaries_steps=4,
        hooks=[watcher, program.state_at_end(final)],
    ) as sess:
        while not sess.should_stop():
            runs.append(program.run(sess))
    return {
        "checkpoints": watcher.contents,
        "final": final,
        "_runs": len(runs) + 1,  # the call that ran out too
        **_files_and_summaries(program, directory),
    }


def steps_per_loop_against_single_steps(program, tmp_path):
    """km runs up to 4 steps per call (steps_per_loop=4), TF1 one: the same
    checkpoint steps and contents, summary steps and values, and stop step,
    because km's loops end on the hooks' trigger steps."""
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(None, directory)
    final = []
    with program.session(
        steps_per_loop=4,
        checkpoint_dir=directory,
        save_checkpoint_steps=4,
        save_summaries_steps=4,
        log_step_count_steps=6,
        hooks=[
            program.stop_at_step(last_step=14),
            watcher,
            program.state_at_end(final),
        ],
    ) as sess:
        runs = loop_until_stop(program, sess)
    return {
        "checkpoints": watcher.contents,
        "final": final,
        "_runs": runs,
        **_files_and_summaries(program, directory),
    }


def steps_per_loop_num_steps_and_end_save(program, tmp_path):
    """steps_per_loop=8, checkpoints every 5 steps, StopAtStepHook(
    num_steps=13), summaries at TF1's default (every 100 steps: step 1
    only): saves at 0, 5, 10 and 13 (end), stop at 13."""
    directory = str(tmp_path)
    program.build()
    watcher = CheckpointWatcher(None, directory)
    final = []
    with program.session(
        steps_per_loop=8,
        checkpoint_dir=directory,
        save_checkpoint_steps=5,
        save_summaries_steps=100,
        hooks=[
            program.stop_at_step(num_steps=13),
            watcher,
            program.state_at_end(final),
        ],
    ) as sess:
        runs = loop_until_stop(program, sess)
    return {
        "checkpoints": watcher.contents,
        "final": final,
        "_runs": runs,
        **_files_and_summaries(program, directory),
    }


SCENARIOS = [
    default_hooks_every_n_steps,
    all_defaults_with_checkpoint_dir,
    chief_only_hooks_before_default_saver,
    summaries_in_summary_dir,
    every_variable_at_every_save,
    restart_restores_every_variable,
    init_fn_on_fresh_start_only,
    init_fn_without_checkpoint_dir,
    recovery_after_save_in_same_phase,
    recovery_from_unavailable_in_before_run,
    out_of_range_saves_last_completed_step,
    failed_step_skips_end_save,
    hook_error_after_save,
    reads_between_steps_with_default_hooks,
    steps_per_loop_against_single_steps,
    steps_per_loop_num_steps_and_end_save,
    steps_per_loop_input_runs_out,
]
LOOP_SCENARIOS = [
    steps_per_loop_against_single_steps,
    steps_per_loop_num_steps_and_end_save,
    steps_per_loop_input_runs_out,
]


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS]
)
def test_km_matches_tf1(scenario, tmp_path):
    expected, actual = check_scenario(scenario, tmp_path)
    if scenario in LOOP_SCENARIOS:
        # The loops ran several steps per call (else the scenario would
        # compare single steps with single steps).
        assert actual["_runs"] < expected["_runs"], (actual, expected)
