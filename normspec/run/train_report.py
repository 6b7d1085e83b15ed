"""``normspec train``'s report (``report.md`` and ``report.html``): the run's settings and
outcome, every epoch's metrics, the curves and, with diagnostics, what they show."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from normspec.ir.graph import CanonicalSpec
from normspec.run.data import Dataset
from normspec.run.diagnostics import Diagnostics
from normspec.run.diagnostics_report import run_lines
from normspec.run.environment import environment_lines, run_environment
from normspec.run.epoch_tables import epoch_table, measured
from normspec.run.outcomes import run_outcome
from normspec.run.report import describe, fmt, plot_curves
from normspec.run.report_html import write_reports
from normspec.run.train import History, RunSettings

NO_VALIDATION = (
    "No validation split (`validation_split: 0`): every sample is trained on, so there are no "
    "validation metrics.\n"
)
BATCH_STATISTICS = (
    "Validation runs twice per epoch: with the running statistics (eval mode, what the "
    "trained model computes) and with batch statistics (train mode, batches of the training "
    "batch size); dropout is off in both.\n"
)


def curves_lines(out: Path, history: History, title: str) -> list[str]:
    """The curves' image (``curves.png``), when matplotlib is installed."""
    try:
        png = plot_curves({history.backend: [history]}, out / "curves.png", title)
    except ImportError:
        return []
    return [f"![curves]({png.name})\n"]


def held_out_lines(history: History, data: Dataset) -> list[str]:
    if not history.test or data.x_test is None:
        return []
    return [
        f"Test split ({len(data.x_test)} samples), final model: loss "
        f"{fmt(history.test['test_loss'])}, accuracy {fmt(history.test['test_accuracy'])}.\n"
    ]


def epoch_lines(spec: CanonicalSpec, history: History, data: Dataset) -> list[str]:
    """Every epoch's measured metrics, after what the two validations are."""
    keys = measured(spec, len(data.x_val) > 0)
    note = [BATCH_STATISTICS] if "val_train_mode_loss" in keys else []
    return ["## Every epoch\n", *note, epoch_table(history, keys)]


def write_train_report(
    out: Path,
    spec: CanonicalSpec,
    history: History,
    data: Dataset,
    settings: RunSettings,
    diagnostics: Diagnostics | None = None,
    plots: Sequence[Path] = (),
) -> None:
    """``report.md`` and ``report.html`` (with ``curves.png``) in the run folder ``out``;
    ``plots``: the diagnostics plots in ``out``."""
    result = run_outcome(spec, history, data)
    lines = [
        f"# {spec.name}: training in {history.backend}\n",
        f"Data: `{data.name}` ({len(data.x_train)} train / {len(data.x_val)} validation); "
        f"{describe(settings)}.\n",
        *([] if len(data.x_val) else [NO_VALIDATION]),
        f"Outcome: {result.label} ({result.detail}).\n",
        *epoch_lines(spec, history, data),
        *held_out_lines(history, data),
        *curves_lines(out, history, f"{spec.name} on {data.name} ({history.backend})"),
    ]
    if diagnostics is not None and diagnostics.steps:
        lines += ["## Diagnostics\n", *run_lines(diagnostics, "", plots)]
    lines += [
        "## Environment\n",
        *environment_lines(run_environment([history])),
        f"\nSpec hash `{spec.hash}`.\n",
    ]
    write_reports(out, "\n".join(lines))
