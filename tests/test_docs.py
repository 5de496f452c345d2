"""Code shown in the README and the migration guide runs as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_snippet_trains_and_checkpoints(tmp_path):
    with open(os.path.join(REPO, "README.md")) as handle:
        code = re.search(r"```python\n(.+?)\n```", handle.read(), re.S).group(1)
    code = code.replace('"/tmp/run"', repr(str(tmp_path)))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1000")


def read_doc(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return handle.read()


def test_upgrade_page_lists_every_rule():
    from migration.upgrade import manual_rules, rules

    page = read_doc("docs", "km_migrate_upgrade.md")
    for rule in manual_rules.MANUAL_RULES:
        assert rule.what in page, rule.what
    for flag in rules.KM_FLAGS:
        assert f"`{flag}`" in page, flag


def test_migration_guide_starts_with_the_two_commands():
    guide = read_doc("docs", "migration_guide.md")
    first_section = guide[: guide.index("## 1.")]
    assert "km-migrate upgrade" in first_section
    assert "km-migrate checkpoint" in first_section
    assert "km-migrate" in read_doc("README.md")
