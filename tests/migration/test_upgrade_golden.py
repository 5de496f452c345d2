"""Golden tests of `upgrade_text`: TF1 source in, upgraded source and report
out, one case per behaviour (tests/migration/golden/<case>.{in,out,report}).

After a deliberate change, KM_REGENERATE_GOLDEN=1 rewrites the .out and
.report files; read their diff before committing them.
"""

from __future__ import annotations

import os

import pytest

from migration.upgrade.diagnostics import INFO
from migration.upgrade.engine import upgrade_text

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
CASES = sorted(
    f[: -len(".in")] for f in os.listdir(GOLDEN) if f.endswith(".in")
)
REGENERATE = os.environ.get("KM_REGENERATE_GOLDEN") == "1"


def read(name):
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as handle:
        return handle.read()


def report_of(diagnostics, case):
    return "".join(d.format(f"{case}.py") + "\n" for d in diagnostics)


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    text, diagnostics = upgrade_text(read(f"{case}.in"))
    report = report_of(diagnostics, case)
    if REGENERATE:
        for suffix, content in ((".out", text), (".report", report)):
            with open(os.path.join(GOLDEN, case + suffix), "w") as handle:
                handle.write(content)
    assert text == read(f"{case}.out")
    assert report == read(f"{case}.report")


@pytest.mark.parametrize("case", CASES)
def test_upgrading_again_changes_nothing_and_forgets_nothing(case):
    """The report on upgraded code is a checklist: what still needs a
    person is named again, and nothing is changed twice."""
    upgraded = read(f"{case}.out")
    text, diagnostics = upgrade_text(upgraded)
    assert text == upgraded
    assert not [d for d in diagnostics if d.change or d.severity == INFO]
    _, first = upgrade_text(read(f"{case}.in"))
    assert sum(d.needs_person for d in diagnostics) == sum(
        d.needs_person for d in first
    )


def test_golden_cases_cover_every_analyzer():
    assert len(CASES) >= 9
