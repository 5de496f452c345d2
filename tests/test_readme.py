"""The README's two commands: CI runs the test one; the main one works as written."""

from __future__ import annotations

import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands():
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2, commands
    main, tests = commands
    assert "examples/train.py" in main and "pytest" in tests
    with open(os.path.join(REPO, ".ci", "run")) as handle:
        ci_lines = [
            line.strip()
            for line in handle
            if line.strip() and not line.startswith("#")
        ]
    assert tests in ci_lines


def test_readme_main_command_as_written(tmp_path):
    main = readme_commands()[0]
    env = dict(os.environ, TMPDIR=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        ["bash", "-c", main],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert re.search(
        r"done global_step=1000 loss=\S+ weights_digest=\S+ checkpoint=.*model\.ckpt-1000",
        result.stdout,
    ), result.stdout
    assert os.path.exists(
        tmp_path / "keras_monitored_example" / "model.ckpt-1000.index"
    )
