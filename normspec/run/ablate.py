"""``normspec ablate``: the same spec with one setting varied, over several seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from normspec.ir.graph import CanonicalSpec
from normspec.run import metrics
from normspec.run.ablate_seeds import seeds_section, write_over_seeds
from normspec.run.data import Dataset
from normspec.run.diagnostic_plots import save_diagnostics
from normspec.run.diagnostics import Diagnostics, for_run
from normspec.run.diagnostics_report import VariantDiagnostics, ablation_lines
from normspec.run.environment import environment_lines, run_environment, thread_lines
from normspec.run.epoch_tables import measured, spread_table
from normspec.run.outcomes import Outcome, outcome, summary
from normspec.run.report import describe, fmt, markdown_table, plot_curves, plural
from normspec.run.report_html import write_reports
from normspec.run.train import History, RunSettings, starting_weights, train
from normspec.run.validation import uses_batch_statistics
from normspec.run.variations import AblationError, Variation, distinct, variants

__all__ = [
    "AblationError",
    "VariantResult",
    "Variation",
    "ablate",
    "distinct",
    "table",
    "variants",
    "write_report",
]  # fmt: skip


RunEnd = Callable[[str, int, History, Diagnostics | None], None]
"""Called after each run: its variant's label, seed, history and diagnostics (if any)."""


@dataclass
class VariantResult:
    label: str
    spec: CanonicalSpec
    runs: list[History]
    chance: float
    settings: RunSettings | None = None
    """The variant's own settings, where they may differ from the others'."""
    same_as: str | None = None
    """The label of an earlier variant that is the same model and training (trained once)."""
    validation: bool | None = None
    """Whether its data has a validation split (None: as the report's data)."""

    def outcomes(self) -> list[Outcome]:
        """What happened in each run (:mod:`normspec.run.outcomes`)."""
        return [outcome(h, self.chance) for h in self.runs]

    def failures(self) -> list[str]:
        """Per run: '' if it trained, else why not (diverged, stuck)."""
        return [f"{o.label} ({o.detail})" if o.failed else "" for o in self.outcomes()]

    def summary(self, key: str) -> str:
        values = [h.final.get(key, float("nan")) for h in self.runs]
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return "nan"
        if len(finite) == 1:
            return f"{fmt(finite[0])} (n = 1)"
        return f"{fmt(statistics.mean(finite))} ± {fmt(statistics.stdev(finite))}"


def ablate(
    specs: dict[str, CanonicalSpec],
    backend: str,
    data: Mapping[str, Dataset],
    settings: Mapping[str, RunSettings],
    seeds: int,
    out: Path,
    *,
    progress: Callable[[str, int, int, dict[str, float]], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_batch_end: Callable[[int], None] | None = None,
    same: Mapping[str, str] | None = None,
    diagnostics: int | str | None = None,
    on_run_end: RunEnd | None = None,
) -> list[VariantResult]:
    """Train every variant ``seeds`` times (seeds ``settings[label].seed + k``), each with its
    own ``settings`` and ``data`` (a variant may vary ``train.*``), and write the report.
    A variant in ``same`` (label -> earlier label, see :func:`distinct`) is not trained again:
    it shares the earlier variant's runs. With a ``diagnostics`` interval (steps or
    ``"epoch"``) every run records them into ``out/diagnostics/v<variant>_seed<seed>``.
    ``on_run_end(label, seed, history, diagnostics)`` is called after each run."""
    results: list[VariantResult] = []
    same = dict(same or {})
    watched: list[VariantDiagnostics] = []
    for label, spec in specs.items():
        if label in same:
            earlier = next(r for r in results if r.label == same[label])
            results.append(replace(earlier, label=label, same_as=earlier.label))
            continue
        runs, base, split = [], settings[label], data[label]
        seen = VariantDiagnostics(label)
        for k in range(seeds):
            if on_start:
                on_start(label, k)
            seeded = replace(base, seed=base.seed + k)
            weights = starting_weights(spec, split, seeded.seed)

            def on_epoch(row: dict[str, float], label: str = label, k: int = k) -> None:
                if progress:
                    progress(label, k, int(row["epoch"]), row)

            diag = for_run(spec, split.x_train, seeded.batch_size, diagnostics, split.y_train)
            history, _ = train(spec, backend, split, weights, seeded, on_batch_end=on_batch_end,
                               on_epoch=on_epoch, diagnostics=diag)  # fmt: skip
            runs.append(history)
            if diag is not None:
                folder = out / "diagnostics" / f"v{len(results) + 1}_seed{seeded.seed}"
                folder.mkdir(parents=True, exist_ok=True)
                plots = save_diagnostics(folder, diag, f"{label}, seed {seeded.seed}")
                seen.add(seeded.seed, diag, folder.relative_to(out), plots)
            if on_run_end:
                on_run_end(label, seeded.seed, history, diag)
        chance = metrics.chance_accuracy(spec, split.y_val)
        results.append(VariantResult(label, spec, runs, chance, base,
                                     validation=len(split.x_val) > 0))  # fmt: skip
        watched += [seen] if seen.seeds else []
    first = next(iter(specs))
    write_report(results, backend, data[first], settings[first], seeds, out,
                 diagnostics=ablation_lines(watched))  # fmt: skip
    return results


NO_VALIDATION = (
    "No validation split (`validation_split: 0`): every sample is trained on, so there are no "
    "validation metrics; failures are judged on the final train accuracy.\n"
)


def table(results: Sequence[VariantResult]) -> str:
    rows = []
    for r in results:
        status = summary(r.outcomes())
        if r.same_as is not None:
            status += f" (same model as {r.same_as}: trained once)"
        batch = r.summary("val_train_mode_accuracy") if uses_batch_statistics(r.spec) else (
            "no batch norm")  # fmt: skip
        rows.append([r.label, r.summary("loss"), r.summary("val_loss"),
                     r.summary("val_accuracy"), batch, status])  # fmt: skip
    header = ["variant", "train loss", "val loss", "val accuracy",
              "val accuracy, batch statistics", "status"]  # fmt: skip
    return markdown_table(header, rows)


def write_report(
    results: Sequence[VariantResult],
    backend: str,
    data: Dataset,
    settings: RunSettings,
    seeds: int,
    out: Path,
    *,
    title: str | None = None,
    diagnostics: Sequence[str] = (),
) -> None:
    """report.md and curves.png in ``out``; ``title`` defaults to the first spec's name;
    ``diagnostics``: the lines of a diagnostics section, if any."""
    out.mkdir(parents=True, exist_ok=True)
    name = title or (results[0].spec.name if results else "spec")
    png = plot_curves(
        {r.label: r.runs for r in results if r.same_as is None},
        out / "curves.png",
        f"{name}: ablation",
    )
    chance = results[0].chance if results else float("nan")
    own = {r.label: r.settings for r in results if r.settings is not None}
    shared = len({describe(s) for s in own.values()}) <= 1
    how = describe(settings) if shared else "settings per variant (below)"
    lines = [
        f"# Ablation of {name} ({backend}, data `{data.name}`)\n",
        f"{plural(seeds, 'seed')} per variant; {how}; mean ± std of the final epoch. Chance "
        f"accuracy (majority class): {fmt(chance, 3)}. Outcomes (README, *Outcomes*): "
        "diverged (NaN loss), stuck (training accuracy within 0.02 of chance), eval-mode lag "
        "(validation 0.1 or more accurate with batch statistics than with the running "
        "ones), slow start (at chance after epoch 1), trained.\n",
        *([] if len(data.x_val) else [NO_VALIDATION]),
        table(results),
        *([] if shared else ["", *(f"- {label}: {describe(s)}" for label, s in own.items())]),
        f"\n![curves]({png.name})\n",
        *epochs_section(results, len(data.x_val) > 0),
        *seeds_section(results),
        "Every epoch's mean, std and 95 % interval per variant and metric: "
        "[over_seeds.csv](over_seeds.csv).\n",
        *diagnostics,
        "## Environment\n",
        *environment_lines(run_environment(run for r in results for run in r.runs)),
        *thread_lines({r.label: r.runs for r in results}),
    ]
    write_over_seeds(results, out / "over_seeds.csv")
    write_reports(out, "\n".join(lines))


def epochs_section(results: Sequence[VariantResult], validation: bool) -> list[str]:
    """Per variant every epoch's measured metrics, mean ± std over its seeds."""
    lines = ["## Every epoch\n"]
    for r in results:
        lines.append(f"### {r.label}\n")
        if r.same_as is not None:
            lines.append(f"The same model and training as {r.same_as} (trained once).\n")
            continue
        keys = measured(r.spec, validation if r.validation is None else r.validation)
        runs = plural(len(r.runs), "seed")
        lines += [f"Mean ± std over {runs}:\n" if len(r.runs) > 1 else f"{runs}, no spread:\n",
                  spread_table(r.runs, keys)]  # fmt: skip
    return lines
