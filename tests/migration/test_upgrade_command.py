"""`km-migrate upgrade` as a command: where files go, backups, the report,
exit codes, and bad input (clear errors, exit 2, nothing partial written)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest

from migration.cli import main

TF1_HOOK = """import tensorflow as tf


class Hook(tf.train.SessionRunHook):  # a TF1 hook
    def begin(self):
        self._step = tf.train.get_global_step()
"""
NEEDS_PERSON = "import tensorflow as tf\n\nx = tf.placeholder(tf.float32)\n"


def km_migrate(*args):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def tree(root):
    """Every file under `root`, relative, with its text."""
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8", errors="replace") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def test_out_dir_gets_the_upgraded_tree(tmp_path):
    source = tmp_path / "project"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "hooks.py").write_text(TF1_HOOK)
    (source / "train.py").write_text("print('no TF here')\n")
    (source / "config.json").write_text("{}")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "x.pyc").write_text("stale")
    out = tmp_path / "out"

    code, report, _ = km_migrate("upgrade", str(source), "--out", str(out))

    assert code == 0, report
    files = tree(out)
    # One directory: its contents go straight into --out.
    assert sorted(files) == ["config.json", "pkg/hooks.py", "train.py"]
    assert (
        "class Hook(km.SessionRunHook):  # a TF1 hook" in files["pkg/hooks.py"]
    )
    assert files["train.py"] == "print('no TF here')\n"
    assert (source / "pkg" / "hooks.py").read_text() == TF1_HOOK  # untouched
    assert f"{source / 'pkg' / 'hooks.py'}:4:12: INFO: Renamed" in report
    assert "2 Python files, 1 changed, 2 changes, 0 items need a person" in (
        report
    )
    assert report.rstrip().endswith("Every construct found was converted.")


def test_in_place_keeps_a_backup_and_never_overwrites_one(tmp_path):
    path = tmp_path / "hooks.py"
    path.write_text(TF1_HOOK)

    code, report, _ = km_migrate("upgrade", str(path), "--in-place")
    assert code == 0
    assert (tmp_path / "hooks.py.bak").read_text() == TF1_HOOK
    upgraded = path.read_text()
    assert "km.get_global_step()" in upgraded
    assert f"{path} -> {path}.bak" in report

    # Nothing left to change: no write, no second backup.
    code, report, _ = km_migrate("upgrade", str(path), "--in-place")
    assert code == 0 and path.read_text() == upgraded
    assert not (tmp_path / "hooks.py.bak1").exists()

    # A new TF1 edit: the first backup stays, the next gets a new name.
    path.write_text(
        upgraded + "import tensorflow as tf\ny = tf.train.StopAtStepHook(3)\n"
    )
    km_migrate("upgrade", str(path), "--in-place")
    assert (tmp_path / "hooks.py.bak").read_text() == TF1_HOOK
    assert "StopAtStepHook(3)" in (tmp_path / "hooks.py.bak1").read_text()
    assert sorted(os.listdir(tmp_path)) == [
        "hooks.py",
        "hooks.py.bak",
        "hooks.py.bak1",
    ]


def test_report_file_and_exit_code_when_a_person_must_act(tmp_path):
    (tmp_path / "a.py").write_text(NEEDS_PERSON)
    report_path = tmp_path / "report.txt"

    code, report, _ = km_migrate(
        "upgrade",
        str(tmp_path / "a.py"),
        "--out",
        str(tmp_path / "out"),
        "--report",
        str(report_path),
    )

    assert code == 1
    assert report_path.read_text() == report
    line = f"{tmp_path / 'a.py'}:3:5: ERROR: `tf.placeholder`"
    assert line in report and "(manual edit required)" in report
    assert "1 items need a person (ERROR)" in report
    assert "Not finished: 1 ERROR items above need a person" in report
    assert "converted" not in report.splitlines()[-1]


def test_a_file_that_does_not_parse_is_reported_and_nothing_written(
    tmp_path,
):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(TF1_HOOK)
    bad.write_text('"""Doc."""\ndef main(:\n    pass\n')
    out = tmp_path / "out"

    code, report, _ = km_migrate(
        "upgrade", str(bad), str(good), "--out", str(out)
    )

    assert code == 2
    # Where Python places the error (the second line, at the colon).
    assert f"{bad}:2:10: ERROR: does not parse (not valid Python" in report
    assert "1 not upgraded" in report and "0 items need a person" in report
    assert (
        f"Not upgraded (left untouched): {bad}. Nothing was written" in report
    )
    assert f"{good}:4:12: INFO: Renamed" in report  # still reported
    assert not out.exists()
    assert bad.read_text() == '"""Doc."""\ndef main(:\n    pass\n'


def test_in_place_on_a_file_that_does_not_parse_writes_nothing(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def broken(:\n")
    code, report, _ = km_migrate("upgrade", str(bad), "--in-place")
    assert code == 2
    assert os.listdir(tmp_path) == ["bad.py"]
    assert "not valid Python" in report


@pytest.mark.parametrize(
    "make_args, message",
    [
        pytest.param(
            lambda t: ["upgrade", str(t / "missing.py"), "--out", str(t / "o")],
            "`PATH` '{t}/missing.py' does not exist.",
            id="missing-path",
        ),
        pytest.param(
            lambda t: ["upgrade", str(t / "a.py"), "--out", str(t / "a.py")],
            "`--out` '{t}/a.py' is a file, not a directory.",
            id="out-is-a-file",
        ),
        pytest.param(
            lambda t: ["upgrade", str(t / "a.py"), "--out", str(t / "a.py/x")],
            "`--out` '{t}/a.py/x' cannot be created: '{t}/a.py' is a file.",
            id="out-under-a-file",
        ),
        pytest.param(
            lambda t: ["upgrade", str(t / "a.py"), "--out", str(t)],
            "`--out` '{t}' would overwrite the input '{t}/a.py'",
            id="out-is-the-input-dir",
        ),
        pytest.param(
            lambda t: [
                "upgrade",
                str(t / "a.py"),
                "--in-place",
                "--report",
                str(t / "no" / "r.txt"),
            ],
            "`--report` '{t}/no/r.txt' is not a file in an existing directory.",
            id="report-dir-missing",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, make_args, message):
    (tmp_path / "a.py").write_text(TF1_HOOK)
    before = tree(tmp_path)

    code, out, err = km_migrate(*make_args(tmp_path))

    assert code == 2
    assert out == ""
    assert message.format(t=tmp_path) in err
    assert err.startswith("km-migrate upgrade: error: ")
    assert tree(tmp_path) == before


def test_unwritable_out_dir(tmp_path):
    (tmp_path / "a.py").write_text(TF1_HOOK)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits
            target = tmp_path / "a.py" / "out"
        else:
            target = locked / "out"
        code, out, err = km_migrate(
            "upgrade", str(tmp_path / "a.py"), "--out", str(target)
        )
    finally:
        locked.chmod(0o700)
    assert code == 2 and out == ""
    assert "`--out`" in err and str(target) in err
    assert sorted(os.listdir(tmp_path)) == ["a.py", "locked"]
    assert os.listdir(locked) == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["upgrade", "a.py"], id="neither-out-nor-in-place"),
        pytest.param(
            ["upgrade", "a.py", "--out", "o", "--in-place"], id="both"
        ),
        pytest.param(["upgrade"], id="no-path"),
        pytest.param(["nonsense"], id="unknown-command"),
    ],
)
def test_bad_command_lines_exit_2(args, capsys):
    code, out, err = km_migrate(*args)
    assert code == 2 and out == ""
    assert "usage: km-migrate" in err  # argparse's usage error goes to `err`
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow
def test_console_script_and_module_entry_point(tmp_path):
    (tmp_path / "a.py").write_text(TF1_HOOK)
    commands = [[sys.executable, "-m", "migration"]]
    script = shutil.which("km-migrate")
    assert script, "pip install -e . installs the km-migrate console script"
    commands.append([script])
    for number, command in enumerate(commands):
        out = tmp_path / f"out{number}"
        result = subprocess.run(
            [*command, "upgrade", str(tmp_path / "a.py"), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(
                os.environ,
                PYTHONPATH=os.path.dirname(
                    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                ),
            ),
        )
        assert result.returncode == 0, result.stderr
        assert "km.get_global_step()" in (out / "a.py").read_text()
