"""Batch norm together with dropout, across seeds: is the result a matter of luck?

Runs specs/digits_bn_dropout.yaml with batch norm and without it, five seeds each, and reports
mean ± std of the final metrics (the spread is the answer to "once 97 %, once 60 %").

Run: ``python examples/bn_dropout_seeds.py [--backend torch] [--seeds 5] [--epochs 8]``
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
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bn_dropout")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    subprocess.run(
        [sys.executable, "-m", "normspec", "ablate", str(ROOT / "specs" / "digits_bn_dropout.yaml"),
         "--data", "digits", "--backend", args.backend, "--seeds", str(args.seeds),
         "--epochs", str(args.epochs), "--vary", "norm.kind=batch,none",
         "--out", str(args.out)],
        check=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
