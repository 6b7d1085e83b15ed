"""Plots of training diagnostics (PNG, matplotlib): a heatmap of ops x steps per statistic,
and histograms of chosen ops' outputs at the first and last diagnostic step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from normspec.files import replacing
from normspec.run.diagnostics import Diagnostics, Row, write_csv

HEATMAP_STATS = (
    "dead_fraction",
    "saturated_fraction",
    "std",
    "variance_shift",
    "update_ratio",
    "grad_norm",
)
"""The statistics drawn as heatmaps (each when the run has it)."""
FRACTIONS = ("zero_fraction", "dead_fraction", "negative_fraction", "saturated_fraction")
HISTOGRAMS = "diagnostics_histograms.png"
DIAGNOSTICS_FILES = frozenset(
    {"diagnostics.csv", HISTOGRAMS, *(f"diagnostics_{stat}.png" for stat in HEATMAP_STATS)}
)
"""Every file :func:`save_diagnostics` may write into a run folder."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _pyplot().close(fig)
    return path


def stat_grid(rows: Sequence[Row], stat: str) -> tuple[list[str], list[int], np.ndarray]:
    """Ops (in order of first appearance), steps, and the ``stat`` values as an ops x steps
    array (NaN where an op has no value at a step)."""
    ops: dict[str, int] = {}
    steps: dict[int, int] = {}
    for step, op, name, _ in rows:
        if name == stat:
            ops.setdefault(op, len(ops))
            steps.setdefault(step, len(steps))
    grid = np.full((len(ops), len(steps)), np.nan)
    for step, op, name, value in rows:
        if name == stat:
            grid[ops[op], steps[step]] = value
    return list(ops), list(steps), grid


def _norm(stat: str, grid: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm, Normalize

    if stat in FRACTIONS:
        return Normalize(0.0, 1.0)
    finite = grid[np.isfinite(grid)]
    if finite.size and finite.min() > 0 and finite.max() > 10 * finite.min():
        return LogNorm(finite.min(), finite.max())
    return Normalize(*(finite.min(), finite.max()) if finite.size else (0.0, 1.0))


def plot_heatmap(rows: Sequence[Row], stat: str, path: Path, title: str) -> Path | None:
    """``stat`` per op (rows) and diagnostic step (columns); None when no op has it."""
    ops, steps, grid = stat_grid(rows, stat)
    if not ops:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(min(4 + 0.3 * len(steps), 14), 1.2 + 0.28 * len(ops)))
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest",
                      cmap="viridis", norm=_norm(stat, grid))  # fmt: skip
    ax.set_yticks(range(len(ops)), ops, fontsize=7)
    shown = range(0, len(steps), max(1, math.ceil(len(steps) / 12)))
    ax.set_xticks(list(shown), [str(steps[i]) for i in shown], fontsize=7)
    ax.set_xlabel("optimizer step")
    fig.colorbar(image, ax=ax, label=stat.replace("_", " "))
    ax.set_title(f"{title}: {stat.replace('_', ' ')}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_histograms(diagnostics: Diagnostics, path: Path, title: str) -> Path | None:
    """One panel per shown op: its output's histogram at the first and at the last step."""
    ops = [op for op in diagnostics.shown if op in diagnostics.first]
    if not ops:
        return None
    plt = _pyplot()
    from matplotlib.ticker import NullLocator

    cols = min(4, len(ops))
    rows = -(-len(ops) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    first, last = diagnostics.steps[0], diagnostics.steps[-1]
    for ax, op in zip(axes.flat, ops, strict=False):
        start, end = diagnostics.first[op], diagnostics.last[op]
        both = np.concatenate([start, end])
        both = both[np.isfinite(both)]
        bins = np.histogram_bin_edges(both, bins=50) if both.size else 10
        for values, step in ((start, first), (end, last)):
            counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
            ax.stairs(counts, edges, fill=True, alpha=0.5, label=f"step {step}")
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost more than the plot
        ax.set_title(op, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(ops) :]:
        ax.axis("off")
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower center", ncol=2,
               frameon=False, fontsize=8)  # fmt: skip
    fig.suptitle(f"{title}: outputs on the probe batch", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)


def save_diagnostics(folder: Path, diagnostics: Diagnostics, title: str) -> list[Path]:
    """``diagnostics.csv`` and, when matplotlib is installed, the heatmaps and histograms, in
    ``folder``; returns the plots written."""
    write_csv(folder / "diagnostics.csv", diagnostics.rows)
    try:
        _pyplot()
    except ImportError:
        return []
    plots = [plot_heatmap(diagnostics.rows, stat, folder / f"diagnostics_{stat}.png", title)
             for stat in HEATMAP_STATS]  # fmt: skip
    plots.append(plot_histograms(diagnostics, folder / HISTOGRAMS, title))
    return [p for p in plots if p is not None]


def report_lines(plots: Sequence[Path], prefix: str = "") -> list[str]:
    """Markdown image links to ``plots`` (relative to the report, under ``prefix``)."""
    return [f"![{p.stem}]({prefix}{p.name})" for p in plots]
