"""TF1 vs km: what a hook's fetches return (contract sections 1 and 3).

A `tf.Variable` fetched through `SessionRunArgs` is its value before the
step, as TF1's read of the variable itself (ordered before the update in
the TF1 program, see tests/differential.py); reads after the step come from
tensors ordered after it (TF1) and from callables and the name
"global_step" (km). TF1 hook code's `results + 1` idiom and
`tf.compat.v1.train.get_global_step()` lookups work on both, also with a
`Scaffold(global_step=...)` the step advances itself.
"""

from __future__ import annotations

import pytest

from tests.differential import (
    CheckpointWatcher,
    Recorder,
    ResultsPlusOne,
    TF1Program,
    check_scenario,
    loop_until_stop,
    run_scenario,
)


def variable_fetch_before_step(program, tmp_path):
    """Every variable (and the global step variable) fetched by a hook,
    next to reads after the step."""
    trace = []
    program.build()
    with program.session(
        hooks=[
            program.variable_recorder(trace),
            program.stop_at_step(last_step=4),
        ]
    ) as sess:
        loop_until_stop(program, sess)
    return trace, "ok"


def _steps_and_a_read(program, sess):
    """Three steps, a read-only run (hooks run around it, no step), a step."""
    reads = []
    for _ in range(3):
        program.run(sess)
    reads.append(program.read(sess))
    program.run(sess)
    return reads


def results_plus_one_idiom(program, tmp_path):
    """A TF1 hook looks the global step up in begin, fetches it and takes
    `results + 1`: 1, 2, 3 over three steps, 4 on the read-only run (nothing
    ran: the value before plus one), then 5; variables fetched beside it
    are their values before each run."""
    trace = []
    program.build()
    hooks = [
        ResultsPlusOne(trace),
        Recorder(trace, program.variable_fetches(), program.full_state),
    ]
    with program.session(hooks=hooks) as sess:
        reads = _steps_and_a_read(program, sess)
    return trace, reads


def scaffold_global_step_lookup(program, tmp_path):
    """km: `Scaffold(global_step=v)` with a step function that advances `v`
    itself; while the session is open `tf.compat.v1.train.get_global_step()`
    is `v` (contract section 3), so the TF1 hook finds, fetches and counts
    it as TF1's hook counted TF1's global step; checkpoints hold it as the
    global step."""
    trace = []
    directory = str(tmp_path)
    program.build(own_global_step=True)
    watcher = CheckpointWatcher(None, directory)
    hooks = [
        ResultsPlusOne(trace),
        program.variable_recorder(trace),
        program.stop_at_step(last_step=5),
        watcher,
    ]
    with program.session(
        checkpoint_dir=directory, save_checkpoint_steps=2, hooks=hooks
    ) as sess:
        loop_until_stop(program, sess)
    return {"trace": trace, "checkpoints": watcher.contents}


SCENARIOS = [
    variable_fetch_before_step,
    results_plus_one_idiom,
    scaffold_global_step_lookup,
]


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS]
)
def test_km_matches_tf1(scenario, tmp_path):
    check_scenario(scenario, tmp_path)


def test_tf1_side_counts_steps_and_reads(tmp_path):
    """The TF1 program gives the values before the step that TF1 hook code
    assumes (anchors B1), so the comparison above is against them."""
    result = run_scenario(results_plus_one_idiom, TF1Program(), tmp_path)
    counted = [e[1] for e in result["trace"] if e[0] == "results+1"]
    assert counted == [1, 2, 3, 4, 4]
