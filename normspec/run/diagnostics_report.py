"""The diagnostics in the reports: per run what was captured (steps, probe, csv), the
findings (:func:`normspec.run.outcomes.diagnostic_findings`), a table of the main statistics
per op at the first and the last step, and the plots; for ablations, per variant the last
step's statistics as mean ± std over seeds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from normspec.run.diagnostic_plots import report_lines
from normspec.run.diagnostics import Diagnostics, Row
from normspec.run.epoch_tables import spread_cell
from normspec.run.outcomes import DEAD_SHARE, SATURATED_SHARE, diagnostic_findings
from normspec.run.report import markdown_table

TABLE_STATS = ("std", "dead_fraction", "saturated_fraction", "variance_shift", "update_ratio",
               "grad_norm")  # fmt: skip
"""The statistics the tables show (the heatmaps' ones); every statistic is in the csv."""

Values = dict[tuple[str, str], float]
"""``(op, stat) -> value`` at one step."""


def num(value: float) -> str:
    """4 significant digits (gradient norms and update ratios span many decades)."""
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


def at_step(rows: Sequence[Row], step: int) -> Values:
    return {(op, stat): value for s, op, stat, value in rows if s == step}


def captured(diag: Diagnostics) -> str:
    steps = diag.steps
    return (f"steps {steps[0]} to {steps[-1]}, every {diag.every}, on {len(diag.probe)} probe "
            "samples")  # fmt: skip


def findings(rows: Sequence[Row]) -> str:
    """``Findings: ...`` from the rows: each saturated activation and mostly dead op, or that
    there is none (saturation is measured only where a tanh, sigmoid or softmax is)."""
    if not rows:
        return ""
    last = max(step for step, *_ in rows)
    parts = []
    for stat in ("saturated_fraction", "dead_fraction"):
        own = [row for row in rows if row[2] == stat]
        found = diagnostic_findings(own)
        if found:
            parts += found
        elif own and stat == "saturated_fraction":
            parts.append(f"no tanh, sigmoid or softmax output {SATURATED_SHARE:.0%} or more "
                         f"saturated at step {last}")  # fmt: skip
        elif own:
            parts.append(f"no op with {DEAD_SHARE:.0%} or more of its units dead at step {last}")
    return "Findings: " + "; ".join(parts) + "."


def _table(ops: Sequence[str], stats: Sequence[str], cell: Mapping[tuple[str, str], str]) -> str:
    header = ["op", *(s.replace("_", " ") for s in stats)]
    rows = [[op, *(cell.get((op, s), "–") for s in stats)] for op in ops]
    return markdown_table(header, rows)


def _ops_and_stats(keys: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    present = {stat for _, stat in keys}
    ops = list(dict.fromkeys(op for op, stat in keys if stat in TABLE_STATS))
    return ops, [s for s in TABLE_STATS if s in present]


def first_last_table(rows: Sequence[Row]) -> str:
    """Per op its :data:`TABLE_STATS` at the first and the last step, ``first → last``
    (``–``: not measured at that step, as the update ratio at the first)."""
    steps = sorted({step for step, *_ in rows})
    first, last = at_step(rows, steps[0]), at_step(rows, steps[-1])
    ops, stats = _ops_and_stats(list({(op, stat): None for _, op, stat, _ in rows}))
    cell = {
        key: f"{num(first[key]) if key in first else '–'} → "
        f"{num(last[key]) if key in last else '–'}"
        for key in {*first, *last}
    }
    return _table(ops, stats, cell)


def head_line(diag: Diagnostics, prefix: str) -> str:
    """What was captured, where the csv is (under ``prefix``), and the findings."""
    csv_link = f"[diagnostics.csv]({prefix}diagnostics.csv)"
    return f"Diagnostics at {captured(diag)}: {csv_link}. {findings(diag.rows)}\n"


def table_lines(diag: Diagnostics) -> list[str]:
    steps = diag.steps
    return [f"Per op, at step {steps[0]} → step {steps[-1]}:\n", first_last_table(diag.rows)]


def run_lines(diag: Diagnostics, prefix: str, plots: Sequence[Path]) -> list[str]:
    """One run's diagnostics: what was captured, the findings, the table and the plots
    (paths relative to the report, under ``prefix``)."""
    return [head_line(diag, prefix), *table_lines(diag), *report_lines(plots, prefix), ""]


def over_seeds_table(lasts: Sequence[Values]) -> str:
    """Per op its :data:`TABLE_STATS` at the last step, mean ± std over the runs."""
    keys = list(dict.fromkeys(key for values in lasts for key in values))
    ops, stats = _ops_and_stats(keys)
    cell = {key: spread_cell([v.get(key, math.nan) for v in lasts], num) for key in keys}
    return _table(ops, stats, cell)


@dataclass
class VariantDiagnostics:
    """An ablation variant's diagnostics, kept for the report once each run is done (the
    runs' own data are in their folders)."""

    label: str
    seeds: list[tuple[int, str, str, str]] = field(default_factory=list)
    """Per run: its seed, :func:`head_line`, :func:`table_lines` and plots, as markdown."""
    lasts: list[Values] = field(default_factory=list)
    """Per run, the statistics at its last step."""
    last_step: int = 0

    def add(self, seed: int, diag: Diagnostics, folder: Path, plots: Sequence[Path]) -> None:
        prefix = folder.as_posix() + "/"
        images = "\n".join(report_lines(plots, prefix))
        self.seeds.append((seed, head_line(diag, prefix), "\n".join(table_lines(diag)), images))
        self.lasts.append(at_step(diag.rows, diag.steps[-1]))
        self.last_step = diag.steps[-1]

    def lines(self) -> list[str]:
        """The variant's part of the report: with several seeds, the last step's statistics
        over seeds and per seed its findings and plots; with one, its first and last step."""
        lines = [f"### {self.label}\n"]
        several = len(self.seeds) > 1
        if several:
            lines += [f"Per op at step {self.last_step} (the last), mean ± std over "
                      f"{len(self.seeds)} seeds:\n", over_seeds_table(self.lasts)]  # fmt: skip
        for seed, head, table, images in self.seeds:
            lines += [f"#### seed {seed}\n", head, *([] if several else [table]), images, ""]
        return lines


def ablation_lines(variants: Sequence[VariantDiagnostics]) -> list[str]:
    """The ablation report's diagnostics section; nothing without diagnostics."""
    if not variants:
        return []
    return ["## Diagnostics\n", *(line for v in variants for line in v.lines())]
