"""Batch norm before or after the ReLU, or no batch norm, on scikit-learn's digits, over seeds.

Equivalent to
``normspec ablate specs/digits_cnn.yaml --data digits --vary
norm.position=before_activation,after_activation,none --seeds 3``.

Run: ``python examples/bn_position_digits.py [--backend torch] [--seeds 3] [--epochs 5]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bn_position")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run(
        [sys.executable, "-m", "normspec", "ablate", str(ROOT / "specs" / "digits_cnn.yaml"),
         "--data", "digits", "--backend", args.backend, "--seeds", str(args.seeds),
         "--epochs", str(args.epochs),
         "--vary", "norm.position=before_activation,after_activation,none",
         "--out", str(args.out)],
        check=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
