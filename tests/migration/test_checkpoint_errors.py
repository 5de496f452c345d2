"""`km-migrate checkpoint` refuses unusable input with exit code 2, a message
naming the argument and the value, and nothing written (no staging either)."""

import os

import pytest
import tensorflow as tf

from tests.migration.checkpoint_models import harness, tf1_graphs

CONV = harness.CONV_BN_DENSE
DENSE = harness.DENSE_MODELS


@pytest.fixture(scope="module")
def tf1_prefix(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tf1")
    return tf1_graphs.train_and_save(
        str(directory), "flat_names", "adam", 1, 0.1
    )


def _object_based(tmp_path):
    directory = tmp_path / "tf2"
    return tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(directory / "ckpt"))


def _checkpoint_in_out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
    (out / "model.ckpt-7.index").write_text("")
    return out


def _out_is_a_file(tmp_path):
    out = tmp_path / "out"
    out.write_text("not a directory")
    return out


def _unwritable_parent(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    if not os.access(locked, os.W_OK):
        return locked / "out"
    # Running as root: permissions do not stop writes; a file does.
    os.chmod(locked, 0o700)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    return blocker / "sub"


# id -> (arguments to change, what the message must say)
CASES = {
    "missing_tf1_checkpoint": (
        {"ckpt": lambda t: t / "missing" / "model.ckpt-5"},
        ["`TF1_CKPT`", "Nothing is there"],
    ),
    "directory_without_checkpoint": (
        {"ckpt": lambda t: t},
        ["`TF1_CKPT`", "holds no checkpoint"],
    ),
    "object_based_checkpoint": (
        {"ckpt": _object_based},
        ["`TF1_CKPT`", "it needs no conversion"],
    ),
    "model_file_missing": (
        {"--model": lambda t: f"{t}/nowhere.py:build"},
        ["`--model`", "nowhere.py:build", "There is no file"],
    ),
    "model_function_missing": (
        {"--model": lambda t: f"{DENSE}:build_resnet"},
        ["`--model`", "defines no 'build_resnet'", "build_named_dense"],
    ),
    "model_function_raises": (
        {"--model": lambda t: f"{CONV}:build_raising"},
        ["`--model`", "RuntimeError: no GPU here"],
    ),
    "model_not_callable": (
        {"--model": lambda t: f"{CONV}:NOT_A_FUNCTION"},
        ["`--model`", "not a function"],
    ),
    "model_without_variables": (
        {"--model": lambda t: f"{CONV}:build_nothing"},
        ["`--model`", "int 42, which has no variables"],
    ),
    "model_never_built": (
        {"--model": lambda t: f"{CONV}:build_unbuilt_model"},
        ["`--model`", "it was never built", "keras.Input"],
    ),
    "model_without_function_part": (
        {"--model": lambda t: CONV},
        ["`--model`", "no `:FUNCTION` part"],
    ),
    "model_module_missing": (
        {"--model": lambda t: "no_such_package.models:build"},
        ["`--model`", "Cannot import module 'no_such_package.models'"],
    ),
    "map_without_equals": (
        {"--map": lambda t: "foo"},
        ["`--map`", "'foo'", "REGEX=REPLACEMENT"],
    ),
    "map_invalid_regex": (
        {"--map": lambda t: "(=x"},
        ["`--map`", "'(=x'", "not a valid Python regular expression"],
    ),
    "map_bad_group_reference": (
        {"--map": lambda t: r"^w(1)$=dense/\2"},
        ["`--map`", "does not fit the regex"],
    ),
    "out_is_a_file": (
        {"--out": _out_is_a_file},
        ["`--out`", "It is a file"],
    ),
    "out_holds_a_checkpoint": (
        {"--out": _checkpoint_in_out},
        ["`--out`", "already holds a checkpoint", "model.ckpt-7.index"],
    ),
    "out_parent_not_writable": (
        {"--out": _unwritable_parent},
        ["`--out`"],
    ),
    "optimizer_name": (
        # A name would write Keras's default learning rate, which a restore
        # puts in place of the program's own.
        {"--optimizer": lambda t: "adam"},
        ["`--optimizer`", "'adam'", "learning rate", "FILE.py:FUNCTION"],
    ),
    "optimizer_function_returns_a_model": (
        {"--optimizer": lambda t: f"{DENSE}:build_named_dense"},
        ["`--optimizer`", "not a Keras optimizer"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_and_writes_nothing(case, tf1_prefix, tmp_path):
    changes, fragments = CASES[case]
    arguments = {
        "ckpt": tf1_prefix,
        "--model": f"{DENSE}:build_named_dense",
        "--out": tmp_path / "out",
        "--map": "^w1$=dense/kernel",
    }
    arguments.update({key: make(tmp_path) for key, make in changes.items()})
    before = harness.files_under(tmp_path)
    command = ["checkpoint", arguments.pop("ckpt")]
    for flag, value in arguments.items():
        command += [flag, value]
    result = harness.run(*command)
    assert result.code == 2, result.out + result.err
    assert result.err.startswith("km-migrate checkpoint: error: Invalid value")
    for fragment in fragments:
        assert fragment in result.err
    assert result.out == ""
    assert harness.files_under(tmp_path) == before  # nothing, no staging
    locked = tmp_path / "locked"
    if locked.exists():
        os.chmod(locked, 0o700)


def test_a_good_command_line_does_write(tf1_prefix, tmp_path):
    """The baseline the cases above change one argument of."""
    result = harness.run(
        "checkpoint",
        tf1_prefix,
        "--model",
        f"{DENSE}:build_named_dense",
        "--out",
        tmp_path / "new" / "out",
        "--map",
        "^w1$=dense/kernel",
        "--map",
        "^b1$=dense/bias",
    )
    assert result.code == 0, result.out + result.err
    assert harness.files_under(tmp_path) == [
        "new",
        "new/out",
        "new/out/checkpoint",
        "new/out/model.ckpt-1.data-00000-of-00001",
        "new/out/model.ckpt-1.index",
    ]
