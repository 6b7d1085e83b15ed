"""The main job: validate a spec, show it, build it for every backend and compare them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "cifar_cnn.yaml"
OUT = ROOT / "demo-out"


def normspec(*args: str) -> None:
    print(f"\n$ normspec {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "normspec", *args], check=True)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    normspec("validate", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml")))
    normspec("show", str(SPEC.relative_to(ROOT)))
    normspec("canonical", str(SPEC.relative_to(ROOT)), "-o", str(OUT / "cifar_cnn.canonical.yaml"))
    print(f"canonical form written to {OUT.relative_to(ROOT)}/cifar_cnn.canonical.yaml")


if __name__ == "__main__":
    main()
