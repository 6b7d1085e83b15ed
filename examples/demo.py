"""The main job: one spec, three frameworks, the same model — checked, then trained.

1. validate every spec in specs/ and show the demo spec;
2. build the model file for each backend (demo-out/<backend>_digits_cnn.py);
3. ``normspec compare``: identical weights and input in PyTorch, Keras and Flax, eval and train
   mode, against a numpy reference (the parity table);
4. ``normspec compare --train``: train in all three from identical weights on identical batches
   of scikit-learn's digits; final metrics side by side, curves in demo-out/train/curves.png.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = "specs/digits_cnn.yaml"
OUT = Path("demo-out")
BACKENDS = ("torch", "keras", "flax")


def normspec(*args: str) -> None:
    print(f"\n$ normspec {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "normspec", *args], check=True, cwd=ROOT)


def main() -> None:
    (ROOT / OUT).mkdir(exist_ok=True)
    normspec("validate", *sorted(f"specs/{p.name}" for p in (ROOT / "specs").glob("*.yaml")))
    normspec("show", SPEC)
    for backend in BACKENDS:
        normspec("build", SPEC, "--backend", backend, "-o", str(OUT / f"{backend}_digits_cnn.py"))
    normspec("compare", SPEC, "--backends", ",".join(BACKENDS))
    normspec("compare", SPEC, "--train", "--data", "digits", "--epochs", "3",
             "--backends", ",".join(BACKENDS), "--out", str(OUT / "train"))  # fmt: skip


if __name__ == "__main__":
    main()
