"""Batch norm with dropout: "once 97 %, once 60 %" -- luck, or do they fight?

Three variants of ``specs/digits_bn_dropout.yaml`` on scikit-learn's digits, over seeds: the
128-unit dense block with dropout *before* its batch norm (dense, dropout, BN, tanh), with
dropout after it (dense, BN, tanh, dropout, the spec as written) and without batch norm. For
each it reports the spread over seeds of the validation accuracy after the first epoch and at
the end, Welch's test of each pair, and the *variance shift* at each batch norm, measured by the
diagnostics after every epoch: the variance of the batch norm's input with dropout off (as at
test time) over the running variance it learned with dropout on (1 when they agree; Li et al.,
CVPR 2019). Writes the ablation report, curves and diagnostics to runs/bn_dropout/.

Run: ``python examples/bn_dropout_seeds.py [--backend torch] [--seeds 10] [--epochs 10]``
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import yaml

import normspec
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.run.ablate import VariantResult, ablate, table
from normspec.run.ablate_seeds import seeds_section
from normspec.run.data import load_dataset
from normspec.run.diagnostics import read_csv
from normspec.run.seed_stats import spread
from normspec.run.train import RunSettings

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "digits_bn_dropout.yaml"
ORDERS = {
    "dropout_before_bn": ["dense", "dropout", "norm", "act"],
    "dropout_after_bn": ["dense", "norm", "act", "dropout"],
}


def variants() -> dict[str, CanonicalSpec]:
    """The three variants, from the spec file with its dense block's order changed."""
    doc = yaml.safe_load(SPEC.read_text())
    block = doc["layers"][3]["dense"]
    out = {}
    for label, order in ORDERS.items():
        block["order"] = order
        out[label] = normspec.load(yaml.safe_dump({**doc, "name": label}))
    del block["order"]
    doc["defaults"]["norm"] = "none"
    out["no_bn"] = normspec.load(yaml.safe_dump({**doc, "name": "no_bn"}))
    return out


def variance_shifts(result: VariantResult, index: int, out: Path) -> dict[str, list[float]]:
    """Each batch norm's variance shift at the last diagnostic step, one value per seed."""
    shifts: dict[str, list[float]] = {}
    norms = {s.op.name for s in result.spec.nodes if isinstance(s.op, ir.BatchNorm)}
    for history_seed in range(len(result.runs)):
        seed = (result.settings.seed if result.settings else 0) + history_seed
        rows = read_csv(out / "diagnostics" / f"v{index}_seed{seed}" / "diagnostics.csv")
        last = max(step for step, *_ in rows)
        for step, op, stat, value in rows:
            if step == last and stat == "variance_shift" and op in norms:
                shifts.setdefault(op, []).append(value)
    return shifts


def conclusion(results: list[VariantResult], out: Path) -> str:
    """The answer from the numbers: the variance shift at the batch norm right after the
    dropout, against the same batch norm with dropout after it, and the accuracy verdict."""
    by_label = {r.label: (i, r) for i, r in enumerate(results, start=1)}
    shift = {label: statistics.mean(variance_shifts(r, i, out)["dense_1_bn"])
             for label, (i, r) in by_label.items() if label in ORDERS}  # fmt: skip
    verdicts = [line[2:] for line in seeds_section(results)
                if line.startswith("- dropout_before_bn vs dropout_after_bn")]  # fmt: skip
    before, after = shift["dropout_before_bn"], shift["dropout_after_bn"]
    return (
        f"With dropout before it, dense_1_bn sees at test time (dropout off) {before:.2f} times "
        "the variance it normalizes by (its running variance, learned with dropout on); with "
        f"dropout after it, {after:.2f}. Final accuracy: {verdicts[0]}."
    )


def findings(results: list[VariantResult], out: Path) -> list[str]:
    """Per variant: accuracy after epoch 1 and at the end over seeds, and the variance shift
    at each batch norm."""
    lines = []
    for index, r in enumerate(results, start=1):
        first = spread([h.epochs[0]["val_accuracy"] for h in r.runs])
        final = spread([h.final["val_accuracy"] for h in r.runs])
        lines.append(f"{r.label}: validation accuracy after epoch 1 {first.text(3)}; "
                     f"at the end {final.text(3)}")  # fmt: skip
        for op, values in variance_shifts(r, index, out).items():
            mean = statistics.mean(values)
            lines.append(f"  {op}: variance shift {mean:.3f} (seeds: "
                         f"{', '.join(f'{v:.3f}' for v in values)})")  # fmt: skip
    return lines


def run(backend: str, seeds: int, epochs: int, out: Path) -> tuple[list[VariantResult], list[str]]:
    specs = variants()
    data = load_dataset("digits", seed=0, validation_split=0.2)
    settings = {label: RunSettings.from_spec(spec, epochs=epochs) for label, spec in specs.items()}
    results = ablate(specs, backend, dict.fromkeys(specs, data), settings, seeds, out,
                     diagnostics="epoch")  # fmt: skip
    return results, [*findings(results, out), conclusion(results, out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bn_dropout")
    args = parser.parse_args()
    results, lines = run(args.backend, args.seeds, args.epochs, args.out)
    print(table(results), end="")
    print("\n".join(line[2:] for line in seeds_section(results) if " vs " in line))
    print("\n".join(lines))
    print(f"report, curves and diagnostics in {args.out}/")


if __name__ == "__main__":
    main()
