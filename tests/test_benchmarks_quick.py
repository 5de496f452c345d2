"""`python -m benchmarks --quick` produces every kind of output file: results
JSON, the markdown page with its generated tables, and PNG plots. (A smoke
test of the benchmark harness: it asserts nothing about speed.)"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.slow
def test_quick_run_writes_results_json(quick_run):
    results = quick_run / "results"
    for name in ("throughput_W1", "hooks", "checkpoint", "close"):
        data = json.loads((results / f"{name}.json").read_text())
        assert data["suite"] == name
        assert {"systems", "ratios", "machine", "run"} <= set(data)
        assert data["run"]["mode"] == "quick"
        assert {"cpus", "tensorflow", "keras", "loadavg_start"} <= set(
            data["machine"]
        )
    throughput = json.loads((results / "throughput_W1.json").read_text())
    ratio = throughput["ratios"]["km_spl1/raw_step"]
    assert {"median", "min", "max", "per_round"} <= set(ratio)
    assert len(ratio["per_round"]) == throughput["run"]["rounds"]
    summary = json.loads((results / "summary.json").read_text())
    assert {t["key"] for t in summary["targets"]} >= {
        "spl1_vs_raw_W1",
        "hookcb_vs_bare",
        "async_blocked",
    }
    assert all(isinstance(t["met"], bool) for t in summary["targets"])


@pytest.mark.slow
def test_quick_run_writes_the_page_between_markers(quick_run):
    page = (quick_run / "benchmarks.md").read_text(encoding="utf-8")
    begin = page.index("<!-- benchmarks:begin")
    end = page.index("<!-- benchmarks:end -->")
    generated = page[begin:end]
    assert "| target | bound | judged value |" in generated
    assert "| system | steps/s | µs/step |" in generated
    assert page.count("<!-- benchmarks:begin") == 1
    # The committed page is left alone by a run with --out.
    committed = open(os.path.join(REPO, "docs", "benchmarks.md")).read()
    assert str(quick_run) not in committed


@pytest.mark.slow
def test_quick_run_draws_png_plots(quick_run):
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip(
            "matplotlib is not installed: the `bench` extra draws plots"
        )
    images = sorted((quick_run / "images").glob("*.png"))
    assert {p.name for p in images} >= {"targets.png", "throughput.png"}
    for image in images:
        assert image.read_bytes()[:8] == PNG_MAGIC, image
    page = (quick_run / "benchmarks.md").read_text(encoding="utf-8")
    assert "](images/targets.png)" in page
