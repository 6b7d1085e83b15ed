"""The ablation report's statistics over seeds: each variant's final metric with its 95 %
interval, each pair of variants compared with Welch's t-test, and every epoch's statistics in
``over_seeds.csv``."""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from normspec.files import write_text
from normspec.run.seed_stats import spread, verdict, welch

if TYPE_CHECKING:
    from normspec.run.ablate import VariantResult

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_train_mode_accuracy")


def compared_metric(results: Sequence[VariantResult]) -> str:
    """What the variants are compared on: the final validation accuracy, else the final
    training accuracy (no validation split), else the final validation or training loss."""
    for key in ("val_accuracy", "accuracy", "val_loss", "loss"):
        if any(math.isfinite(h.final.get(key, math.nan)) for r in results for h in r.runs):
            return key
    return "loss"


def finals(result: VariantResult, key: str) -> list[float]:
    return [h.final.get(key, math.nan) for h in result.runs]


def seeds_section(results: Sequence[VariantResult]) -> list[str]:
    """Markdown lines: every variant's spread, then one verdict per pair of variants."""
    own = [r for r in results if r.same_as is None]
    key = compared_metric(own)
    name = key.replace("val_", "validation ").replace("_", " ")
    lines = ["## Over seeds\n", f"Final {name}, mean ± std (95 % confidence interval):\n"]
    lines += [f"- {r.label}: {spread(finals(r, key)).text()}" for r in own]
    if len(own) > 1:
        lines += ["", f"Differences of the final {name}, Welch's t-test at the 5 % level:\n"]
        lines += [
            f"- {verdict(a.label, b.label, welch(finals(a, key), finals(b, key)))}"
            for a, b in itertools.combinations(own, 2)
        ]
    return [*lines, ""]


def write_over_seeds(results: Sequence[VariantResult], path: Path) -> None:
    """``variant, epoch, metric, n, mean, std, ci_low, ci_high`` for every epoch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", "epoch", "metric", "n", "mean", "std", "ci_low", "ci_high"])
    for r in (r for r in results if r.same_as is None):
        epochs = min((len(h.epochs) for h in r.runs), default=0)
        for epoch, key in itertools.product(range(epochs), METRICS):
            s = spread([h.epochs[epoch].get(key, math.nan) for h in r.runs])
            if s.n:
                writer.writerow([r.label, epoch + 1, key, s.n, *(f"{v:.6g}" for v in
                                 (s.mean, s.std, s.low, s.high))])  # fmt: skip
    write_text(path, buffer.getvalue())
