"""Curves (PNG) and reports (markdown) of training comparisons and ablations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from normspec.run.train import History

PANELS = (("loss", "train loss"), ("val_loss", "validation loss"), ("val_accuracy", "val accuracy"))


def plot_curves(groups: Mapping[str, Sequence[History]], path: Path, title: str) -> Path:
    """One panel per metric; one line per group (mean over its runs, band = min..max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.8))
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for name, runs in groups.items():
            curves = [[e[key] for e in h.epochs] for h in runs if h.epochs]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            xs = list(range(1, n + 1))
            cols = [[c[i] for c in curves] for i in range(n)]
            mean = [_mean(col) for col in cols]
            (line,) = ax.plot(xs, mean, marker="o", ms=3, label=name)
            if len(curves) > 1:
                low = [min(col) for col in cols]
                high = [max(col) for col in cols]
                ax.fill_between(xs, low, high, alpha=0.15, color=line.get_color())
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if key.endswith("loss"):
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float, digits: int = 4) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.{digits}f}"
