"""ELU instead of batch norm, on CIFAR-shaped synthetic images whose class is a faint spatial
pattern (colour says nothing).

The networks of "fails to train when one batch norm is removed": cifar_cnn (conv-BN-ReLU
everywhere), cifar_elu_bn_dense (ELU convolutions, the dense layer still BN-ReLU) and
cifar_elu_cnn (ELU everywhere, that last batch norm removed), each from its own seeded start on
the same batches. Without any batch norm the network sits at chance for the first epoch(s)
before it learns; with the one batch norm it starts at once.

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
    for name in ("cifar_cnn", "cifar_elu_bn_dense", "cifar_elu_cnn"):
        spec = normspec.load(ROOT / "specs" / f"{name}.yaml")
        settings = RunSettings.from_spec(spec, epochs=args.epochs)
        history, _ = train(
            spec, args.backend, data, starting_weights(spec, data, settings.seed), settings,
            on_epoch=lambda row, n=name: print(
                f"{n:14} epoch {int(row['epoch'])}: loss {row['loss']:.4f} "
                f"val_acc {row['val_accuracy']:.4f}", flush=True),
        )  # fmt: skip
        chance = chance_accuracy(spec, data.y_val)
        results.append(VariantResult(name, spec, [history], chance, settings))
    write_report(results, args.backend, data, settings, 1, args.out, title="ELU or batch norm")
    print(table(results), end="")


if __name__ == "__main__":
    main()
