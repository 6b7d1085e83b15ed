"""Per-epoch tables of the reports: one row per epoch, the metrics that were measured.

Validation columns need a validation split; accuracy columns a classification loss; the
train-mode validation columns (batch statistics) a model that uses batch statistics (with
none, training computes them as copies of the eval-mode ones, which the tables leave out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from normspec.ir.graph import CanonicalSpec
from normspec.run.report import fmt, markdown_table
from normspec.run.seed_stats import spread
from normspec.run.train import History
from normspec.run.validation import uses_batch_statistics

COLUMNS = (
    ("loss", "train loss"),
    ("accuracy", "train accuracy"),
    ("val_loss", "val loss"),
    ("val_accuracy", "val accuracy"),
    ("val_train_mode_loss", "val loss, batch statistics"),
    ("val_train_mode_accuracy", "val accuracy, batch statistics"),
)
"""Every metric a run records per epoch, and its column header."""


def measured(spec: CanonicalSpec, validation: bool) -> list[str]:
    """The metrics of :data:`COLUMNS` that a run of ``spec`` measures."""
    keys = ["loss", "accuracy"]
    if validation:
        keys += ["val_loss", "val_accuracy"]
        if uses_batch_statistics(spec):
            keys += ["val_train_mode_loss", "val_train_mode_accuracy"]
    if spec.train.loss == "mean_squared_error":
        keys = [k for k in keys if not k.endswith("accuracy")]
    return keys


def _header(keys: Sequence[str]) -> list[str]:
    names = dict(COLUMNS)
    return ["epoch", *(names[k] for k in keys)]


def epoch_table(history: History, keys: Sequence[str]) -> str:
    """One row per epoch of one run: its ``keys``, to 4 decimals."""
    rows = [
        [str(int(row["epoch"])), *(fmt(row.get(k, math.nan)) for k in keys)]
        for row in history.epochs
    ]
    return markdown_table(_header(keys), rows)


def spread_cell(values: Sequence[float], form: Callable[[float], str] = fmt) -> str:
    """``mean ± std`` of the finite values (one value alone; ``(n = k)`` when some runs have
    none: not finite, or no such epoch), each number written by ``form``."""
    s = spread(values)
    if s.n == 0:
        return "nan"
    text = form(s.mean) if s.n == 1 else f"{form(s.mean)} ± {form(s.std)}"
    return text if s.n == len(values) else f"{text} (n = {s.n})"


def spread_table(runs: Sequence[History], keys: Sequence[str]) -> str:
    """One row per epoch over several runs (seeds): per metric ``mean ± std``."""
    epochs = max((len(h.epochs) for h in runs), default=0)
    rows = []
    for i in range(epochs):
        at = [h.epochs[i] if i < len(h.epochs) else {} for h in runs]
        rows.append([str(i + 1), *(spread_cell([r.get(k, math.nan) for r in at]) for k in keys)])
    return markdown_table(_header(keys), rows)
