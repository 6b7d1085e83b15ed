"""Epoch time on scikit-learn's digits: normspec's trainer against a hand-written loop.

Per backend, ``specs/digits_cnn.yaml`` is trained by normspec's idiomatic trainer (the generated
model with ``Backend.fit``: a PyTorch loop, Keras ``compile``/``fit``, Flax NNX with optax and
``nnx.jit``) and, in the same process, the same architecture written by hand is trained by the
loop a user of that framework would write (a ``DataLoader`` loop, ``model.fit`` on arrays, an
``nnx.jit`` step over numpy batches). Same batch size, optimizer and epochs; no validation in
either. Each run is a process of its own (what one run does to the process, page faults of a
data pipeline say, must not carry over to the next), and the two sides alternate, round after
round. The first epoch of each run (compilation, warm-up) is dropped; the median of the others
is printed with the ratio normspec / hand-written.

Run: ``python benchmarks/bench_epochs.py [--backends torch,keras,flax] [--epochs 6] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import normspec  # noqa: E402
from normspec.ir.graph import SGD  # noqa: E402
from normspec.run.data import Dataset, load_dataset  # noqa: E402
from normspec.run.train import starting_weights  # noqa: E402

SPEC = HERE.parent / "specs" / "digits_cnn.yaml"
BATCH, LR, MOMENTUM = 32, 0.05, 0.9
EpochTimes = list[float]


class Clock:
    """Seconds between successive ``tick`` calls, the first measured from construction."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: EpochTimes = []

    def tick(self, *_: object) -> None:
        now = time.perf_counter()
        self.laps.append(now - self.last)
        self.last = now


def normspec_epochs(backend_name: str, data: Dataset, epochs: int) -> EpochTimes:
    from normspec.backends import get_backend

    spec = normspec.load(SPEC)
    backend = get_backend(backend_name)
    model = backend.build(spec)
    backend.set_weights(model, spec, starting_weights(spec, data, seed=0))
    clock = Clock()
    backend.fit(model, spec, data, epochs=epochs, batch_size=BATCH, seed=0,
                optimizer=SGD(learning_rate=LR, momentum=MOMENTUM, nesterov=False),
                on_epoch_end=clock.tick)  # fmt: skip
    return clock.laps


def torch_epochs(data: Dataset, epochs: int) -> EpochTimes:
    import torch
    import torch.nn.functional as F
    from handwritten.torch_models import DigitsCnn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.from_numpy(data.x_train).permute(0, 3, 1, 2)
    loader = DataLoader(TensorDataset(x, torch.from_numpy(data.y_train)), BATCH, shuffle=True)
    model = DigitsCnn(float(data.x_train.mean()), float(data.x_train.std()))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    clock = Clock()
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        clock.tick()
    return clock.laps


def keras_epochs(data: Dataset, epochs: int) -> EpochTimes:
    import keras
    from handwritten.keras_models import digits_cnn

    keras.utils.set_random_seed(0)
    model = digits_cnn(float(data.x_train.mean()), float(data.x_train.std()))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    clock = Clock()
    callback = keras.callbacks.LambdaCallback(on_epoch_end=clock.tick)
    model.fit(data.x_train, data.y_train, batch_size=BATCH, epochs=epochs, verbose=0,
              callbacks=[callback])  # fmt: skip
    return clock.laps


def flax_epochs(data: Dataset, epochs: int) -> EpochTimes:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from handwritten.flax_models import DigitsCnn

    model = DigitsCnn(float(data.x_train.mean()), float(data.x_train.std()), rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(LR, momentum=MOMENTUM), wrt=nnx.Param)

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array):  # type: ignore[no-untyped-def]
        def loss_fn(model: nnx.Module) -> jax.Array:
            logits = model(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    rng = np.random.default_rng(0)
    clock = Clock()
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(data.x_train))
        loss = None
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            loss = step(model, optimizer, jnp.asarray(data.x_train[idx]),
                        jnp.asarray(data.y_train[idx]))  # fmt: skip
        if loss is not None:
            loss.block_until_ready()
        clock.tick()
    return clock.laps


HAND_WRITTEN: dict[str, Callable[[Dataset, int], EpochTimes]] = {
    "torch": torch_epochs,
    "keras": keras_epochs,
    "flax": flax_epochs,
}


def epochs_in_own_process(side: str, backend: str, epochs: int) -> EpochTimes:
    """The epoch times of one run of ``side`` (normspec or hand-written), in a new process."""
    command = [sys.executable, __file__, "--worker", side, "--backends", backend]
    result = subprocess.run([*command, "--epochs", str(epochs)], capture_output=True,
                            text=True, check=True)  # fmt: skip
    times: EpochTimes = json.loads(result.stdout.strip().splitlines()[-1])
    return times


def worker(side: str, backend: str, epochs: int) -> None:
    """Print, as JSON, the epoch times of one run (``--worker``)."""
    data = load_dataset("digits", seed=0, validation_split=0.2)
    if side == "normspec":
        times = normspec_epochs(backend, data, epochs)
    else:
        times = HAND_WRITTEN[backend](data, epochs)
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="torch,keras,flax")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", choices=["normspec", "hand-written"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.backends, args.epochs)
        return
    data = load_dataset("digits", seed=0, validation_split=0.2)
    print(f"digits_cnn on digits: {len(data.x_train)} training images, batch {BATCH}, SGD "
          f"lr {LR} momentum {MOMENTUM}; median epoch of {args.rounds} x {args.epochs - 1} "
          "(first epoch of each run dropped)")  # fmt: skip
    print(f"{'backend':8} {'normspec':>10} {'hand-written':>13} {'ratio':>7}")
    for backend in args.backends.split(","):
        ours: EpochTimes = []
        theirs: EpochTimes = []
        for _ in range(args.rounds):
            ours += epochs_in_own_process("normspec", backend, args.epochs)[1:]
            theirs += epochs_in_own_process("hand-written", backend, args.epochs)[1:]
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{backend:8} {a * 1e3:8.1f}ms {b * 1e3:11.1f}ms {a / b:7.3f}", flush=True)


if __name__ == "__main__":
    main()
