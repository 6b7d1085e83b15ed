"""Emission time of every spec in specs/ for every backend (goal < 50 ms per spec and backend).

Run: ``python benchmarks/bench_emit.py``. Prints the median of 20 emissions (the spec is
canonicalized once, outside the timing).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import normspec
from normspec.backends import BACKENDS, get_backend

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    print(f"{'spec':22}" + "".join(f"{b:>12}" for b in BACKENDS))
    worst = 0.0
    for path in specs:
        spec = normspec.load(path)
        cells = []
        for name in BACKENDS:
            backend = get_backend(name)
            backend.emit(spec)
            times = []
            for _ in range(20):
                start = time.perf_counter()
                backend.emit(spec)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            worst = max(worst, median)
            cells.append(f"{median * 1e3:10.2f}ms")
        print(f"{path.stem:22}" + "".join(cells))
    print(f"slowest: {worst * 1e3:.2f} ms (goal < 50 ms)")


if __name__ == "__main__":
    main()
