"""Core speed: validate wall time, canonicalization time, import time.

Prints figures; asserts nothing. Run: ``python benchmarks/bench_core.py``.
Goals: ``normspec validate`` on a 1,000-op spec < 0.5 s including interpreter start;
canonicalization of ResNet-18 < 50 ms and of the 1,000-op spec < 300 ms; ``import normspec``
< 150 ms with no deep-learning framework in sys.modules.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def big_spec(blocks: int = 250) -> str:
    """A spec with 4 * blocks canonical ops: conv-BN-ReLU-dropout blocks on a small image."""
    lines = [
        "normspec: 1",
        "name: big",
        "input: {shape: [16, 16, 8], normalize: standardize}",
        "defaults: {activation: relu, norm: {kind: batch, position: before_activation}}",
        "layers:",
    ]
    lines += ["  - conv2d: {filters: 8, padding: same, dropout: 0.1}"] * (blocks - 1)
    lines += ["  - flatten", "  - dense: {units: 10, activation: softmax, norm: none}"]
    return "\n".join(lines) + "\n"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    import normspec

    text = big_spec()
    spec = normspec.load(text)
    n_ops = len(list(spec.nodes))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(text)
        cmd = [sys.executable, "-m", "normspec", "validate", str(path)]
        best, median = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), 5)
        print(
            f"normspec validate, {n_ops}-op spec (process):  best {best * 1e3:.0f} ms, "
            f"median {median * 1e3:.0f} ms   (goal < 500 ms)"
        )
    resnet = (ROOT / "specs" / "resnet18.yaml").read_text()
    best, median = best_of(lambda: normspec.load(resnet), 20)
    print(
        f"canonicalize resnet18 (in process):          best {best * 1e3:.1f} ms, "
        f"median {median * 1e3:.1f} ms   (goal < 50 ms)"
    )
    best, median = best_of(lambda: normspec.load(text), 10)
    print(
        f"canonicalize {n_ops}-op spec (in process):     best {best * 1e3:.1f} ms, "
        f"median {median * 1e3:.1f} ms   (goal < 300 ms)"
    )
    probe = (
        "import sys, time; t = time.perf_counter(); import normspec; "
        "d = time.perf_counter() - t; "
        "heavy = sorted({'torch', 'tensorflow', 'keras', 'jax', 'flax'} & set(sys.modules)); "
        "print(d, heavy)"
    )
    runs = []
    for _ in range(7):
        out = subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True
        )
        seconds, heavy = out.stdout.split(" ", 1)
        runs.append(float(seconds))
    print(
        f"import normspec:                             best {min(runs) * 1e3:.1f} ms, "
        f"median {statistics.median(runs) * 1e3:.1f} ms   (goal < 150 ms); "
        f"frameworks loaded: {heavy.strip()}"
    )


if __name__ == "__main__":
    main()
