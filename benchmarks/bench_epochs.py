"""Epoch time of normspec's trainers and runner against hand-written loops, per backend, on
digits and on a CIFAR-sized network.

Goal: every runner <= 1.05x a hand-written loop per epoch, on both networks, in each framework.

Networks (``--nets``): ``digits`` is ``specs/digits_cnn.yaml`` on scikit-learn's digits (1,438
training and 360 validation images, batch 32, SGD lr 0.05); ``cifar`` is ``specs/cifar_cnn.yaml``
on ``synthetic_cifar`` (its first 640 training and 256 validation images, batch 64, SGD lr 0.01);
momentum 0.9 in both. The hand-written side is the same architecture written by hand
(``benchmarks/handwritten/``) and trained by the loop a user of that framework writes: a
``DataLoader`` loop, ``model.fit`` on arrays, an ``nnx.jit`` step over numpy batches.

What the normspec side runs (``--modes``):

- ``fit``: the trainer alone (``Backend.fit``: a PyTorch loop, Keras ``compile``/``fit``, Flax
  NNX with optax and ``nnx.jit``), against the hand-written loop; no validation in either.
- ``eval``: the runner (:func:`normspec.run.train.train`, what ``normspec train`` runs) with its
  validation in eval mode after every epoch, its train-mode pass left out, against the
  hand-written loop that validates after every epoch (``validation_data``, a ``no_grad`` loop, a
  jitted forward; batches of 256): like with like.
- ``both``: the runner as it is, which also validates in train mode (batch statistics, see
  :mod:`normspec.run.validation`), against the same hand-written loop: the ratio includes the
  cost of that second pass, which the hand-written loop does not make.

Each run is a process of its own (what one run does to the process, page faults of a data
pipeline say, must not carry over to the next). A round runs every side once per backend, the
normspec side first in even rounds and last in odd ones. The first epoch of each run
(compilation, warm-up) is dropped; a round's ratio is the median of its normspec epochs over the
median of its hand-written ones. Printed: the median epoch over all rounds of each side, the
median ratio over rounds and its range, and the load average before and after (the ratios, not
the times, are what compares on a shared machine).

Run: ``python benchmarks/bench_epochs.py [--nets digits,cifar] [--backends torch,keras,flax]
[--modes fit,eval,both] [--epochs 5] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from machine import load_average  # noqa: E402

import normspec  # noqa: E402
from normspec.ir.graph import SGD  # noqa: E402
from normspec.run.data import Dataset, load_dataset  # noqa: E402
from normspec.run.train import RunSettings, starting_weights  # noqa: E402

MOMENTUM, VAL_BATCH = 0.9, 256
EpochTimes = list[float]


@dataclass(frozen=True)
class Net:
    spec: str
    data: str
    batch: int
    lr: float
    train: int | None = None
    """How many training images to keep (None: all), and as many validation images."""
    val: int | None = None

    def dataset(self) -> Dataset:
        data = load_dataset(self.data, seed=0, validation_split=0.2)
        return dataclasses.replace(data, x_train=data.x_train[: self.train],
                                   y_train=data.y_train[: self.train], x_val=data.x_val[: self.val],
                                   y_val=data.y_val[: self.val])  # fmt: skip


NETS = {
    "digits": Net("digits_cnn", "digits", batch=32, lr=0.05),
    "cifar": Net("cifar_cnn", "synthetic_cifar", batch=64, lr=0.01, train=640, val=256),
}


class Clock:
    """Seconds between successive ``tick`` calls, the first measured from construction."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: EpochTimes = []

    def tick(self, *_: object) -> None:
        now = time.perf_counter()
        self.laps.append(now - self.last)
        self.last = now


def normspec_epochs(
    backend_name: str, net: Net, data: Dataset, epochs: int, mode: str
) -> EpochTimes:
    from normspec.backends import get_backend
    from normspec.run import train

    spec = normspec.load(HERE.parent / "specs" / f"{net.spec}.yaml")
    optimizer = SGD(learning_rate=net.lr, momentum=MOMENTUM, nesterov=False)
    weights = starting_weights(spec, data, seed=0)
    if mode == "fit":
        backend = get_backend(backend_name)
        model = backend.build(spec)
        backend.set_weights(model, spec, weights)
        clock = Clock()
        backend.fit(model, spec, data, epochs=epochs, batch_size=net.batch, seed=0,
                    optimizer=optimizer, on_epoch_end=clock.tick)  # fmt: skip
        return clock.laps
    if mode == "eval":  # the runner without its train-mode validation pass (this process only)
        train.uses_batch_statistics = lambda spec: False
    settings = RunSettings(epochs=epochs, batch_size=net.batch, seed=0, optimizer=optimizer)
    clock = Clock()
    train.train(spec, backend_name, data, weights, settings, on_epoch=clock.tick)
    return clock.laps


def torch_epochs(net: Net, data: Dataset, epochs: int, validate: bool) -> EpochTimes:
    import torch
    import torch.nn.functional as F
    from handwritten.torch_models import CifarCnn, DigitsCnn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.from_numpy(data.x_train).permute(0, 3, 1, 2)
    loader = DataLoader(TensorDataset(x, torch.from_numpy(data.y_train)), net.batch, shuffle=True)
    x_val = torch.from_numpy(data.x_val).permute(0, 3, 1, 2)
    y_val = torch.from_numpy(data.y_val)
    if net.spec == "digits_cnn":
        model: torch.nn.Module = DigitsCnn(float(data.x_train.mean()), float(data.x_train.std()))
    else:
        model = CifarCnn()
    logits = getattr(model, "logits", model)
    opt = torch.optim.SGD(model.parameters(), lr=net.lr, momentum=MOMENTUM)
    history: list[tuple[float, float]] = []  # validation loss and accuracy
    clock = Clock()
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(logits(xb), yb)
            loss.backward()
            opt.step()
        if validate:
            model.eval()
            with torch.no_grad():
                z = torch.cat([logits(xb) for xb in x_val.split(VAL_BATCH)])
                accuracy = (z.argmax(1) == y_val).double().mean().item()
                history.append((F.cross_entropy(z, y_val).item(), accuracy))
        clock.tick()
    return clock.laps


def keras_epochs(net: Net, data: Dataset, epochs: int, validate: bool) -> EpochTimes:
    import keras
    from handwritten.keras_models import cifar_cnn, digits_cnn

    keras.utils.set_random_seed(0)
    if net.spec == "digits_cnn":
        model = digits_cnn(float(data.x_train.mean()), float(data.x_train.std()))
    else:
        model = cifar_cnn()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=net.lr, momentum=MOMENTUM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    clock = Clock()
    callback = keras.callbacks.LambdaCallback(on_epoch_end=clock.tick)
    model.fit(data.x_train, data.y_train, batch_size=net.batch, epochs=epochs, verbose=0,
              callbacks=[callback], validation_data=(data.x_val, data.y_val) if validate else None,
              validation_batch_size=VAL_BATCH)  # fmt: skip
    return clock.laps


def flax_epochs(net: Net, data: Dataset, epochs: int, validate: bool) -> EpochTimes:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from handwritten.flax_models import CifarCnn, DigitsCnn

    if net.spec == "digits_cnn":
        mean, std = float(data.x_train.mean()), float(data.x_train.std())
        model: nnx.Module = DigitsCnn(mean, std, rngs=nnx.Rngs(0))
    else:
        model = CifarCnn(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(net.lr, momentum=MOMENTUM), wrt=nnx.Param)

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array):  # type: ignore[no-untyped-def]
        def loss_fn(model: nnx.Module) -> jax.Array:
            logits = getattr(model, "logits", model)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    @nnx.jit
    def evaluate(model: nnx.Module, x: jax.Array, y: jax.Array):  # type: ignore[no-untyped-def]
        logits = getattr(model, "logits", model)(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
        return loss, jnp.sum(jnp.argmax(logits, axis=-1) == y)

    rng = np.random.default_rng(0)
    history: list[tuple[float, int]] = []  # validation loss sum and correct predictions
    clock = Clock()
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(data.x_train))
        loss = None
        for start in range(0, len(order), net.batch):
            idx = order[start : start + net.batch]
            loss = step(model, optimizer, jnp.asarray(data.x_train[idx]),
                        jnp.asarray(data.y_train[idx]))  # fmt: skip
        if loss is not None:
            loss.block_until_ready()
        if validate:
            model.eval()
            totals = [evaluate(model, jnp.asarray(data.x_val[i : i + VAL_BATCH]),
                               jnp.asarray(data.y_val[i : i + VAL_BATCH]))
                      for i in range(0, len(data.x_val), VAL_BATCH)]  # fmt: skip
            history.append((sum(float(a) for a, _ in totals), sum(int(b) for _, b in totals)))
        clock.tick()
    return clock.laps


HAND_WRITTEN: dict[str, Callable[[Net, Dataset, int, bool], EpochTimes]] = {
    "torch": torch_epochs,
    "keras": keras_epochs,
    "flax": flax_epochs,
}


def run_in_own_process(net: str, backend: str, side: str, epochs: int) -> EpochTimes:
    """The epoch times of one run of ``side`` in a new process: ``normspec:<mode>`` or
    ``hand-written:<fit|validate>``."""
    command = [sys.executable, __file__, "--worker", side, "--nets", net, "--backends", backend]
    result = subprocess.run([*command, "--epochs", str(epochs)], capture_output=True,
                            text=True, check=True)  # fmt: skip
    times: EpochTimes = json.loads(result.stdout.strip().splitlines()[-1])
    return times


def worker(side: str, net_name: str, backend: str, epochs: int) -> None:
    """Print, as JSON, the epoch times of one run (``--worker``)."""
    net = NETS[net_name]
    data = net.dataset()
    who, what = side.split(":")
    if who == "normspec":
        times = normspec_epochs(backend, net, data, epochs, what)
    else:
        times = HAND_WRITTEN[backend](net, data, epochs, what == "validate")
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nets", default="digits,cifar")
    parser.add_argument("--backends", default="torch,keras,flax")
    parser.add_argument("--modes", default="fit,eval,both")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.nets, args.backends, args.epochs)
        return
    modes = args.modes.split(",")
    baseline = {mode: "hand-written:fit" if mode == "fit" else "hand-written:validate"
                for mode in modes}  # fmt: skip
    sides = [*(f"normspec:{mode}" for mode in modes), *dict.fromkeys(baseline.values())]
    print(f"load average at start: {load_average()}; median epoch of {args.rounds} runs x "
          f"{args.epochs - 1} epochs per side (first epoch of each run dropped)")  # fmt: skip
    print(f"{'net':7} {'backend':8} {'mode':5} {'normspec':>10} {'hand-written':>13} "
          f"{'ratio':>6}  range over rounds")  # fmt: skip
    for net in args.nets.split(","):
        for backend in args.backends.split(","):
            epochs: dict[str, list[EpochTimes]] = {side: [] for side in sides}
            for round_ in range(args.rounds):
                for side in sides if round_ % 2 == 0 else sides[::-1]:
                    runs = run_in_own_process(net, backend, side, args.epochs)[1:]
                    epochs[side].append(runs)
            for mode in modes:
                ours, theirs = epochs[f"normspec:{mode}"], epochs[baseline[mode]]
                ratios = [statistics.median(a) / statistics.median(b)
                          for a, b in zip(ours, theirs, strict=True)]  # fmt: skip
                a = statistics.median(t for run in ours for t in run)
                b = statistics.median(t for run in theirs for t in run)
                print(f"{net:7} {backend:8} {mode:5} {a * 1e3:8.1f}ms {b * 1e3:11.1f}ms "
                      f"{statistics.median(ratios):6.3f}  {min(ratios):.3f}-{max(ratios):.3f}",
                      flush=True)  # fmt: skip
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
