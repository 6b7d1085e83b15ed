"""ELU without batch norm against conv-BN-ReLU, on the CIFAR-shaped synthetic images.

The network of "fails to train when one batch norm is removed": cifar_cnn (BN-ReLU everywhere)
against cifar_elu_cnn (ELU, no BN), trained from the same start on the same batches.

Run: ``python examples/elu_vs_bn.py [--backend torch] [--epochs 4]``
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "elu_vs_bn")
    args = parser.parse_args()
    data = load_dataset("synthetic_cifar", seed=0)
    results = []
    for name in ("cifar_cnn", "cifar_elu_cnn"):
        spec = normspec.load(ROOT / "specs" / f"{name}.yaml")
        settings = RunSettings.from_spec(spec, epochs=args.epochs)
        history, _ = train(
            spec, args.backend, data, starting_weights(spec, data, settings.seed), settings,
            on_epoch=lambda row, n=name: print(
                f"{n:14} epoch {int(row['epoch'])}: loss {row['loss']:.4f} "
                f"val_acc {row['val_accuracy']:.4f}", flush=True),
        )  # fmt: skip
        results.append(VariantResult(name, spec, [history], chance_accuracy(spec, data.y_val)))
    write_report(results, args.backend, data, settings, 1, args.out)
    print(table(results), end="")


if __name__ == "__main__":
    main()
