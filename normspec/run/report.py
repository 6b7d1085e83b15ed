"""Curves (PNG) and reports (markdown) of training comparisons and ablations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from normspec.files import replacing
from normspec.ir.graph import SGD
from normspec.run.seed_stats import spread
from normspec.run.train import History, RunSettings

PANELS = (("loss", "train loss"), ("val_loss", "validation loss"), ("val_accuracy", "val accuracy"))


STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"))
"""Line style and marker per group, so curves that coincide stay visible."""


def plot_curves(groups: Mapping[str, Sequence[History]], path: Path, title: str) -> Path:
    """One panel per metric; one line per group: the mean over its runs, with a band, the 95 %
    confidence interval of that mean (Student's t), where a group has several (seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.9))
    longest, banded = 1, False
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        plotted: list[float] = []
        for i, (name, runs) in enumerate(groups.items()):
            curves = [[e[key] for e in h.epochs] for h in runs if h.epochs]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            longest = max(longest, n)
            xs = list(range(1, n + 1))
            cols = [[c[j] for c in curves] for j in range(n)]
            style, marker = STYLES[i % len(STYLES)]
            means = [_mean(col) for col in cols]
            plotted += means
            (line,) = ax.plot(xs, means, linestyle=style, marker=marker, ms=4, label=name,
                              alpha=0.9)  # fmt: skip
            if len(curves) > 1:
                banded = True
                intervals = [spread(col) for col in cols]
                low, high = [i.low for i in intervals], [i.high for i in intervals]
                ax.fill_between(xs, low, high, alpha=0.15, color=line.get_color())
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, longest + 0.5)
        if longest <= 20:
            ax.set_xticks(range(1, longest + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if key.endswith("loss") and any(math.isfinite(v) and v > 0 for v in plotted):
            ax.set_yscale("log")  # not for a diverged run or an unmeasured loss: nothing to scale
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", fontsize=8,
               ncol=min(len(groups), 4), frameon=False)  # fmt: skip
    note = "  (bands: 95 % confidence interval of the mean over seeds)" if banded else ""
    fig.suptitle(title + note)
    rows = -(-len(groups) // 4)
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe(settings: RunSettings) -> str:
    """``5 epochs, batch 32, seed 0, SGD lr 0.05 momentum 0.9`` (the update rule in words)."""
    opt = settings.optimizer
    if isinstance(opt, SGD):
        rule = f"SGD lr {opt.learning_rate:g}"
        if opt.momentum:
            rule += f" momentum {opt.momentum:g}" + (" (Nesterov)" if opt.nesterov else "")
    else:
        rule = (
            f"Adam lr {opt.learning_rate:g} betas ({opt.beta1:g}, {opt.beta2:g}) "
            f"eps {opt.epsilon:g}"
        )
    return (
        f"{plural(settings.epochs, 'epoch')}, batch {settings.batch_size}, "
        f"seed {settings.seed}, {rule}"
    )
