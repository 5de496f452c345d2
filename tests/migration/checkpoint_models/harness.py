"""Running km-migrate from the checkpoint tests, and reading what it prints."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import re
import subprocess
import sys

from migration import cli

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CONV_BN_DENSE = os.path.join(HERE, "conv_bn_dense.py")
DENSE_MODELS = os.path.join(HERE, "dense_models.py")


@dataclasses.dataclass
class Run:
    """Exit code and output of one km-migrate run."""

    code: int
    out: str
    err: str

    def rows(self) -> list[tuple[str, ...]]:
        """The conversion table's rows: (status, tf1, tf2, shape, note)."""
        lines = self.out.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("STATUS"))
        rows = []
        for line in lines[start + 1 :]:
            if not line.strip():
                break
            cells = re.split(r"\s{2,}", line.strip())
            rows.append(tuple(cells + [""] * (5 - len(cells))))
        return rows

    def rows_by_tf1_name(self) -> dict[str, tuple[str, ...]]:
        return {row[1]: row for row in self.rows() if row[1] != "-"}

    def rows_by_tf2_path(self) -> dict[str, tuple[str, ...]]:
        return {row[2]: row for row in self.rows() if row[2] != "-"}


def run(*args: str) -> Run:
    """km-migrate in this process (`migration.cli.main`)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue())


def run_subprocess(*args: str) -> Run:
    """`python -m migration ...` in a child process, from the repository."""
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-m", "migration", *[str(a) for a in args]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def files_under(directory) -> list[str]:
    """Every file and directory below `directory`, relative, sorted."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def load_fixture(path: str, function: str):
    """`function` from the fixture file at `path` (loaded afresh)."""
    name = "fixture_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)
