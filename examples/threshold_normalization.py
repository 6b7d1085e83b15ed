"""The classic question: one unscaled input x in [0, 25000), y = 1 where x >= 12500.

Four variants, as in the question: no normalization, batch norm only, input normalization only,
both. Without input normalization the tanh units saturate and the network stays near chance;
with it, it is right almost at once. Writes curves and a report to runs/threshold/.

Run: ``python examples/threshold_normalization.py [--backend torch] [--epochs 3]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import normspec
from normspec.run.ablate import VariantResult, table, write_report
from normspec.run.data import load_dataset
from normspec.run.metrics import chance_accuracy
from normspec.run.train import RunSettings, starting_weights, train

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ["plain", "batch_norm", "input_norm", "both"]


def run(backend: str, epochs: int, out: Path) -> list[VariantResult]:
    data = load_dataset("threshold", seed=0, validation_split=0.2)
    results = []
    for variant in VARIANTS:
        spec = normspec.load(ROOT / "specs" / f"threshold_{variant}.yaml")
        settings = RunSettings.from_spec(spec, epochs=epochs)
        weights = starting_weights(spec, data, settings.seed)
        history, _ = train(
            spec, backend, data, weights, settings,
            on_epoch=lambda row, v=variant: print(
                f"{v:11} epoch {int(row['epoch'])}: loss {row['loss']:.4f} "
                f"val_acc {row['val_accuracy']:.4f}", flush=True),
        )  # fmt: skip
        results.append(VariantResult(variant, spec, [history], chance_accuracy(spec, data.y_val)))
    write_report(results, backend, data, settings, 1, out, title="threshold (x >= 12500)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "threshold")
    args = parser.parse_args()
    results = run(args.backend, args.epochs, args.out)
    print(table(results), end="")
    print(f"curves and report in {args.out}/")


if __name__ == "__main__":
    main()
