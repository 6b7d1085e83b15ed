"""Overhead of ``--diagnostics``: a training run with diagnostics every N steps against none.

Per backend, ``specs/digits_cnn.yaml`` is trained on scikit-learn's digits with normspec's
runner (:func:`normspec.run.train.train`, as ``normspec train`` does: validation after every
epoch) without diagnostics and with them every N optimizer steps (plus step 0 and the last
step; probe batch: the first 256 training samples). The variants run interleaved, round after
round, in one process, after one warm-up run of each (compilation); the median wall time of a
run is printed with the ratio to the run without diagnostics, and, separately, the time to
write ``diagnostics.csv`` and the plots of one run.

Run: ``python benchmarks/bench_diagnostics.py [--backends torch] [--intervals 50,10]
[--epochs 3] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import normspec
from normspec.ir.graph import SGD
from normspec.run.data import Dataset, load_dataset
from normspec.run.diagnostic_plots import save_diagnostics
from normspec.run.diagnostics import Diagnostics, for_run
from normspec.run.train import RunSettings, starting_weights, train

SPEC = Path(__file__).resolve().parent.parent / "specs" / "digits_cnn.yaml"
BATCH, LR, MOMENTUM = 32, 0.05, 0.9


def timed_run(
    backend: str, data: Dataset, settings: RunSettings, every: int | None
) -> tuple[float, Diagnostics | None]:
    spec = normspec.load(SPEC)
    weights = starting_weights(spec, data, settings.seed)
    diag = for_run(spec, data.x_train, settings.batch_size, every, data.y_train)
    start = time.perf_counter()
    train(spec, backend, data, weights, settings, diagnostics=diag)
    return time.perf_counter() - start, diag


def save_time(diag: Diagnostics) -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        save_diagnostics(Path(folder), diag, "bench")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="torch")
    parser.add_argument("--intervals", default="50,10")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = load_dataset("digits", seed=0, validation_split=0.2)
    sgd = SGD(learning_rate=LR, momentum=MOMENTUM, nesterov=False)
    settings = RunSettings(epochs=args.epochs, batch_size=BATCH, seed=0, optimizer=sgd)
    variants: list[int | None] = [None, *(int(n) for n in args.intervals.split(","))]
    steps = -(-len(data.x_train) // BATCH) * args.epochs
    print(f"digits_cnn on digits: {len(data.x_train)} training images, batch {BATCH}, "
          f"{args.epochs} epochs ({steps} steps); median of {args.rounds} interleaved rounds "
          "after a warm-up run of each")  # fmt: skip
    print(f"{'backend':8} {'diagnostics':>12} {'captures':>9} {'run':>9} {'ratio':>7} "
          f"{'csv+plots':>10}")  # fmt: skip
    for backend in args.backends.split(","):
        times: dict[int | None, list[float]] = {every: [] for every in variants}
        last: dict[int | None, Diagnostics | None] = {}
        for every in variants:
            timed_run(backend, data, settings, every)  # warm-up: compilation, caches
        for _ in range(args.rounds):
            for every in variants:
                seconds, last[every] = timed_run(backend, data, settings, every)
                times[every].append(seconds)
        base = statistics.median(times[None])
        for every in variants:
            run = statistics.median(times[every])
            diag = last[every]
            label = "none" if every is None else f"every {every}"
            captures = len(diag.steps) if diag else 0
            written = f"{save_time(diag):9.2f}s" if diag else f"{'-':>10}"
            print(f"{backend:8} {label:>12} {captures:9d} {run:8.2f}s {run / base:7.3f} "
                  f"{written}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
