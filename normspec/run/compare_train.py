"""``normspec compare --train``: identical start and batches in every backend, then train."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from normspec.ir.graph import CanonicalSpec
from normspec.run.data import Dataset
from normspec.run.diagnostic_plots import save_diagnostics
from normspec.run.diagnostics import Diagnostics, for_run
from normspec.run.diagnostics_report import run_lines
from normspec.run.drift import OpGap, drift_paragraph, first_step_gaps
from normspec.run.environment import environment_lines, run_environment
from normspec.run.epoch_tables import epoch_table, measured
from normspec.run.outcomes import run_outcome
from normspec.run.report import describe, fmt, markdown_table, plot_curves
from normspec.run.report_html import write_reports
from normspec.run.train import History, RunSettings, save_run, starting_weights, train
from normspec.run.train_report import BATCH_STATISTICS

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class TrainComparison:
    spec: CanonicalSpec
    histories: dict[str, History]
    first_step: list[OpGap] = field(default_factory=list)
    """Per op, how far the backends are apart on the first training batch."""
    diagnostics: dict[str, Diagnostics] = field(default_factory=dict)
    """Per backend, the diagnostics of its run (with ``--diagnostics``)."""
    plots: dict[str, list[Path]] = field(default_factory=dict)
    """Per backend, the diagnostics plots written into its folder."""

    def largest_loss_gap(self, key: str = "loss") -> tuple[float, int]:
        """Largest difference of ``key`` (train loss by default) between any two backends in
        any epoch, and that epoch."""
        gap, where = 0.0, 0
        runs = list(self.histories.values())
        for i, a in enumerate(runs):
            for b in runs[i + 1 :]:
                for ea, eb in zip(a.epochs, b.epochs, strict=False):
                    d = abs(ea[key] - eb[key])
                    if not math.isfinite(d) or d > gap:
                        gap, where = d, int(ea["epoch"])
        return gap, where

    def table(self) -> str:
        rows = [
            [name, *(fmt(h.final.get(m, float("nan"))) for m in METRICS)]
            for name, h in self.histories.items()
        ]
        return markdown_table(["backend", *METRICS], rows)


def compare_training(
    spec: CanonicalSpec,
    backends: Sequence[str],
    data: Dataset,
    settings: RunSettings,
    out: Path,
    *,
    progress: Callable[[str, int, dict[str, float]], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_batch_end: Callable[[int], None] | None = None,
    diagnostics: int | str | None = None,
) -> TrainComparison:
    """Train ``spec`` in each of ``backends`` from the same weights on the same batches; save
    each run in ``out/<backend>`` and the report and curves in ``out``. ``on_start(backend)``
    is called before each run, ``on_batch_end`` after each batch, ``progress(backend, epoch,
    metrics)`` after each epoch. With a ``diagnostics`` interval (steps or ``"epoch"``) each
    run records them (:mod:`normspec.run.diagnostics`) into its folder."""
    weights = starting_weights(spec, data, settings.seed)
    histories = {}
    watched: dict[str, Diagnostics] = {}
    plots: dict[str, list[Path]] = {}
    for name in backends:
        if on_start:
            on_start(name)

        def on_epoch(row: dict[str, float], name: str = name) -> None:
            if progress:
                progress(name, int(row["epoch"]), row)

        diag = for_run(spec, data.x_train, settings.batch_size, diagnostics, data.y_train)
        history, final = train(spec, name, data, weights, settings, on_batch_end=on_batch_end,
                               on_epoch=on_epoch, diagnostics=diag)  # fmt: skip
        save_run(out / name, spec, history, final, settings, data)
        histories[name] = history
        if diag is not None:
            watched[name] = diag
            plots[name] = save_diagnostics(out / name, diag, f"{spec.name} ({name})")
    result = TrainComparison(
        spec, histories, first_step_gaps(spec, backends, weights, data, settings)
    )
    result.diagnostics, result.plots = watched, plots
    write_report(result, data, settings, out)
    return result


NO_VALIDATION = (
    "No validation split (`validation_split: 0`): every sample is trained on, so there are no "
    "validation metrics.\n"
)


def write_report(result: TrainComparison, data: Dataset, settings: RunSettings, out: Path) -> None:
    groups = {name: [h] for name, h in result.histories.items()}
    png = plot_curves(groups, out / "curves.png", f"{result.spec.name} on {data.name}")
    gap, epoch = result.largest_loss_gap()
    val_gap, val_epoch = result.largest_loss_gap("val_loss")
    text = [
        f"# {result.spec.name}: training in {', '.join(result.histories)}\n",
        f"Data: `{data.name}` ({len(data.x_train)} train / {len(data.x_val)} validation); "
        f"{describe(settings)}.\n",
        "Every backend starts from the same canonical weights and sees the same batches in the "
        "same order. Dropout masks come from each framework's own random numbers.\n",
        *([] if len(data.x_val) else [NO_VALIDATION]),
        "## Final epoch\n",
        result.table(),
        f"\nLargest per-epoch gap between backends: train loss {gap:.3g} (epoch {epoch}), "
        f"validation loss {val_gap:.3g} (epoch {val_epoch}).\n",
        "\n" + drift_paragraph(result.first_step, result.histories),
        f"\n![curves]({png.name})\n",
        *epochs_section(result, data),
        *diagnostics_section(result),
        "## Environment\n",
        *environment_lines(run_environment(result.histories.values())),
        f"\nSpec hash `{result.spec.hash}`.\n",
    ]
    write_reports(out, "\n".join(text))


def epochs_section(result: TrainComparison, data: Dataset) -> list[str]:
    """Per backend its outcome and every epoch's measured metrics."""
    keys = measured(result.spec, len(data.x_val) > 0)
    lines = ["## Every epoch\n"]
    if "val_train_mode_loss" in keys:
        lines.append(BATCH_STATISTICS)
    for name, history in result.histories.items():
        found = run_outcome(result.spec, history, data)
        lines += [f"### {name}\n", f"Outcome: {found.label} ({found.detail}).\n",
                  epoch_table(history, keys)]  # fmt: skip
    return lines


def diagnostics_section(result: TrainComparison) -> list[str]:
    """The report's diagnostics: per backend what was captured, the findings, the first and
    last step's statistics, the csv and plots; nothing without them."""
    if not result.diagnostics:
        return []
    lines = ["## Diagnostics\n"]
    for name, diag in result.diagnostics.items():
        lines += [f"### {name}\n", *run_lines(diag, f"{name}/", result.plots.get(name, []))]
    return lines
