"""The page's plots (matplotlib, Agg backend; the `bench` extra): targets,
throughput per workload, per-hook overhead, checkpoint and memory."""

from __future__ import annotations

import os
import statistics
from typing import Any

WORKLOAD_SYSTEMS = (
    "raw_step",
    "km_spl1",
    "tf1_mts",
    "fit_spe1",
    "hookcb_spe1",
    "raw_loop",
    "km_spl100",
    "fit_spe100",
    "hookcb_spe100",
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, directory: str, name: str) -> str:
    figure.tight_layout()
    figure.savefig(os.path.join(directory, name), dpi=90)
    plt.close(figure)
    return name


def _targets(plt: Any, judged: list[dict[str, Any]], directory: str) -> str:
    """Each target's margin: measured/bound (or bound/measured for upper
    bounds), so >= 1 is met; whiskers show the rounds' range."""
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(judged) + 1.2))
    for row, t in enumerate(reversed(judged)):

        def margin(value: float) -> float:
            if value <= 0:
                return float("inf")
            return value / t["bound"] if t["at_least"] else t["bound"] / value

        value = margin(t["value"])
        ends = sorted((margin(t["min"]), margin(t["max"])))
        axes.plot(ends, [row, row], color="0.6", linewidth=2)
        axes.plot(
            [value], [row], "o", color="tab:green" if t["met"] else "tab:red"
        )
    axes.axvline(1.0, color="black", linewidth=1, linestyle="--")
    axes.set_yticks(range(len(judged)))
    axes.set_yticklabels([t["key"] for t in reversed(judged)], fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel(
        "margin to the target (≥ 1 met; log scale; bar: rounds' range)"
    )
    axes.set_title("Targets")
    return _save(plt, figure, directory, "targets.png")


def _throughput(plt: Any, results: dict[str, Any], directory: str) -> str:
    """Steps/s of each system relative to the raw per-step loop, per
    workload (median of per-round ratios)."""
    names = [n for n in results if n.startswith("throughput_")]
    figure, axes = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(names)
    systems = [
        s
        for s in WORKLOAD_SYSTEMS
        if any(s in results[n]["systems"] for n in names)
    ]
    for index, name in enumerate(names):
        result = results[name]
        base = result["systems"]["raw_step"]["seconds"]
        base_steps = result["systems"]["raw_step"]["steps_per_round"]
        heights = []
        for system in systems:
            info = result["systems"].get(system)
            if info is None:
                heights.append(0.0)
                continue
            heights.append(
                statistics.median(
                    (b / base_steps) / (s / info["steps_per_round"])
                    for s, b in zip(info["seconds"], base)
                )
            )
        positions = [i + index * width for i in range(len(systems))]
        axes.bar(positions, heights, width, label=name.split("_")[1])
    axes.axhline(1.0, color="black", linewidth=1, linestyle="--")
    axes.set_xticks([i + 0.4 - width / 2 for i in range(len(systems))])
    axes.set_xticklabels(systems, rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("steps/s ÷ raw per-step loop's")
    axes.set_yscale("log")
    axes.set_title("Throughput relative to the raw per-step tf.function loop")
    axes.legend()
    return _save(plt, figure, directory, "throughput.png")


def _hooks(plt: Any, result: dict[str, Any], directory: str) -> str:
    from benchmarks.hook_overhead import overhead_us

    extra = overhead_us(result)
    figure, axes = plt.subplots(figsize=(8, 0.35 * len(extra) + 1.2))
    keys = list(extra)[::-1]
    # Log scale: a median at or below zero (within noise) gets a stub bar.
    values = [max(extra[k]["median"], 0.5) for k in keys]
    colors = ["tab:blue" if extra[k]["median"] > 0.5 else "0.7" for k in keys]
    axes.barh(range(len(keys)), values, color=colors)
    for row, key in enumerate(keys):
        axes.text(
            values[row] * 1.15,
            row,
            f"{extra[key]['median']:+.0f}",
            va="center",
            fontsize=7,
        )
    axes.set_xlim(0.4, max(values) * 8)
    axes.set_yticks(range(len(keys)))
    axes.set_yticklabels(keys, fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("overhead per step over a hook-less km session (µs, log)")
    axes.set_title("Per-hook overhead (W1, steps_per_loop=1)")
    return _save(plt, figure, directory, "hooks.png")


def _checkpoint(plt: Any, result: dict[str, Any], directory: str) -> str:
    systems = result["systems"]
    names = list(systems)
    figure, axes = plt.subplots(figsize=(6, 3))
    blocked = [systems[n]["blocked"] * 1e3 for n in names]
    total = [systems[n]["total_extra"] * 1e3 for n in names]
    positions = range(len(names))
    axes.bar([p - 0.2 for p in positions], blocked, 0.4, label="blocked")
    axes.bar(
        [p + 0.2 for p in positions], total, 0.4, label="save + steps after"
    )
    axes.set_xticks(list(positions))
    axes.set_xticklabels(names)
    axes.set_ylabel("ms per save")
    axes.set_title("Checkpoint save cost")
    axes.legend()
    return _save(plt, figure, directory, "checkpoint.png")


def draw(
    results: dict[str, Any], judged: list[dict[str, Any]], directory: str
) -> tuple[list[str], str | None]:
    """Draws every plot the results allow into `directory`.

    Returns:
      The PNG file names, and why plots were skipped (or None).
    """
    try:
        plt = _pyplot()
    except ImportError:
        return [], "matplotlib is not installed (pip install -e '.[bench]')"
    os.makedirs(directory, exist_ok=True)
    images = []
    if judged:
        images.append(_targets(plt, judged, directory))
    if any(n.startswith("throughput_") for n in results):
        images.append(_throughput(plt, results, directory))
    if "hooks" in results:
        images.append(_hooks(plt, results["hooks"], directory))
    if "checkpoint" in results:
        images.append(_checkpoint(plt, results["checkpoint"], directory))
    return images, None
