"""Training-step time against intra-op thread count (PyTorch, or Keras on TensorFlow), for
networks from under a MFLOP to several GFLOPs a batch: where one thread is faster than the
framework's default, on an idle machine and beside busy processes. It is what the default of
``--threads`` (``auto``, :func:`normspec.threads.choose`) is chosen from.

For each spec (``--specs``, from ``specs/``): random inputs of the spec's input shape and random
targets, batches of ``--batch`` (the spec's own when not given), the spec's loss and SGD with
momentum 0.9, trained by ``Backend.fit`` (the loop ``normspec train`` runs). A round times an
epoch of ``--steps`` steps at each thread count in turn (after an untimed epoch), the order
reversed every other round. PyTorch runs every count in one process (the first round, warm-up,
dropped); TensorFlow fixes its pool when it starts, so with ``--backend keras`` each timing is a
process of its own (the median of three epochs). Printed per spec: forward FLOPs of a batch
(:mod:`normspec.costs`), the median step time at each thread count, and the median over rounds
of the time at one thread over the time at each other count (below 1: one thread is faster).

``--busy N`` runs N busy-loop processes beside the timing (another job on the machine).

Run: ``python benchmarks/bench_threads.py [--backend torch|keras] [--specs digits_cnn,...]
[--threads 1,2] [--steps 20] [--rounds 5] [--busy 0]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
from machine import load_average  # noqa: E402

import normspec  # noqa: E402
from normspec.costs import spec_cost  # noqa: E402
from normspec.ir.graph import SGD, CanonicalSpec  # noqa: E402
from normspec.run.data import Dataset  # noqa: E402

SPECS = "mlp,digits_bn_dropout,digits_cnn,lenet5,mnist_bn_dropout,inception_mini,se_cnn,cifar_cnn"


def busy_loop() -> None:
    while True:
        pass


def dataset(spec: CanonicalSpec, samples: int) -> Dataset:
    """Random inputs and targets for ``spec``, no validation split."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, *spec.input.shape)).astype(np.float32)
    out = spec.nodes[-1].shape
    if spec.train.loss == "cross_entropy":
        y = rng.integers(0, out[-1], size=samples)
    else:
        y = rng.random((samples, *out)).astype(np.float32)
    return Dataset("random", x, y, x[:0], y[:0])


def prepared(name: str, backend_name: str, batch: int | None, steps: int):  # type: ignore[no-untyped-def]
    """The spec (SGD with momentum), its backend, a built model and ``steps`` batches."""
    from normspec.backends import get_backend

    spec = normspec.load(HERE.parent / "specs" / f"{name}.yaml")
    sgd = SGD(learning_rate=0.01, momentum=0.9, nesterov=False)
    size = batch or spec.train.batch_size
    train = spec.train.model_copy(update={"optimizer": sgd, "batch_size": size})
    spec = spec.model_copy(update={"train": train})
    backend = get_backend(backend_name)
    model = backend.build(spec)
    backend.set_weights(model, spec, normspec.init_weights(spec))
    return spec, size, backend, model, dataset(spec, size * steps)


def timed(backend, model, spec, data, epochs: int) -> float:  # type: ignore[no-untyped-def]
    """The median time of a step over ``epochs`` epochs of ``fit``, the first one dropped."""
    laps = [time.perf_counter()]
    size = spec.train.batch_size
    backend.fit(model, spec, data, epochs=epochs, batch_size=size, seed=0,
                optimizer=spec.train.optimizer,
                on_epoch_end=lambda *_: laps.append(time.perf_counter()))  # fmt: skip
    steps = len(data.x_train) // size
    return statistics.median(b - a for a, b in itertools.pairwise(laps[1:])) / steps


def torch_times(name: str, counts: list[int], steps: int, rounds: int, batch: int | None):  # type: ignore[no-untyped-def]
    """PyTorch changes its count at any time: every count in one process, interleaved."""
    import torch

    spec, size, backend, model, data = prepared(name, "torch", batch, steps)
    times: dict[int, list[float]] = {n: [] for n in counts}
    before = torch.get_num_threads()
    for r in range(rounds + 1):
        for n in counts if r % 2 == 0 else counts[::-1]:
            torch.set_num_threads(n)
            elapsed = timed(backend, model, spec, data, epochs=2)
            if r:
                times[n].append(elapsed)
    torch.set_num_threads(before)
    return spec, size, times


def child(backend_name: str, name: str, count: int, steps: int, batch: int | None) -> None:
    """One timing in a process of its own: TensorFlow and XLA fix their pools at start."""
    from normspec.backends import get_backend
    from normspec.threads import given

    with get_backend(backend_name).threads(given(count)):
        spec, _, backend, model, data = prepared(name, backend_name, batch, steps)
        print(json.dumps(timed(backend, model, spec, data, epochs=4)))


def process_times(  # type: ignore[no-untyped-def]
    backend: str, name: str, counts: list[int], steps: int, rounds: int, batch: int | None
):
    times: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(rounds):
        for n in counts if r % 2 == 0 else counts[::-1]:
            which = f"{backend}:{name}:{n}"
            command = [sys.executable, __file__, "--child", which, "--steps", str(steps)]
            command += ["--batch", str(batch)] if batch else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times[n].append(json.loads(done.stdout.strip().splitlines()[-1]))
    spec = normspec.load(HERE.parent / "specs" / f"{name}.yaml")
    return spec, batch or spec.train.batch_size, times


def report(name: str, spec: CanonicalSpec, size: int, times: dict[int, list[float]]) -> None:
    counts = list(times)
    flops = spec_cost(spec).flops * size
    medians = "  ".join(f"{n}: {statistics.median(times[n]) * 1e3:7.1f} ms" for n in counts)
    ratios = "  ".join(
        f"1/{n}: {statistics.median(a / b for a, b in zip(times[1], times[n], strict=True)):.2f}"
        for n in counts
        if n != 1
    )
    print(f"{name:18} batch {size:3}  {flops / 1e6:9.1f} MFLOPs  {medians}  {ratios}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", default=SPECS)
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--backend", choices=["torch", "keras", "flax"], default="torch")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, name, count = args.child.split(":")
        child(backend, name, int(count), args.steps, args.batch)
        return
    counts = sorted({1, *(int(n) for n in args.threads.split(","))})
    busy = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(args.busy)]
    for process in busy:
        process.start()
    try:
        print(f"load average {load_average()}; {args.busy} busy process(es) beside")
        for name in args.specs.split(","):
            if args.backend == "torch":
                timed_counts = torch_times(name, counts, args.steps, args.rounds, args.batch)
            else:
                timed_counts = process_times(
                    args.backend, name, counts, args.steps, args.rounds, args.batch
                )
            report(name, *timed_counts)
        print(f"load average {load_average()}")
    finally:
        for process in busy:
            process.terminate()


if __name__ == "__main__":
    main()
