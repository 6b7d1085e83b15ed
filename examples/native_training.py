"""Build model files with normspec, then import and train them with each framework's own tools.

normspec's part ends at ``normspec build``: what you import is a plain module of one
framework. This script builds ``specs/mlp.yaml`` for PyTorch, Keras and Flax into
``runs/native/``, imports each file and trains it the way that framework's users do (a PyTorch
loop with ``torch.optim.Adam``, Keras ``compile``/``fit``, Flax NNX with optax and ``nnx.jit``)
on scikit-learn's digits, then prints each test accuracy. Nothing here calls normspec's own
runners; the three trainings are independent, so their numbers are close but not identical.

Run: ``python examples/native_training.py [--epochs 10] [--out runs/native]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "mlp.yaml"
BATCH, LR = 32, 1e-3


def build(backend: str, out: Path) -> ModuleType:
    """``normspec build`` the spec for ``backend`` and import the file it writes."""
    path = out / f"mlp_{backend}.py"
    subprocess.run([sys.executable, "-m", "normspec", "build", str(SPEC), "--backend", backend,
                    "-o", str(path)], check=True)  # fmt: skip
    module_spec = importlib.util.spec_from_file_location(f"mlp_{backend}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8x8x1 images (pixel values 0..16; the spec rescales them) and labels, 80/20 split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = data.images[..., None].astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def train_torch(module: ModuleType, data: tuple, epochs: int) -> float:
    import torch
    import torch.nn.functional as F

    x_train, y_train, x_test, y_test = data
    torch.manual_seed(0)
    model = module.Mlp()  # channels-first input: (N, 1, 8, 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    xs = torch.from_numpy(x_train).permute(0, 3, 1, 2)
    ys = torch.from_numpy(y_train)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xs)).split(BATCH):
            probabilities = model(xs[idx])  # the spec ends in a softmax
            loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), ys[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test).permute(0, 3, 1, 2)).argmax(dim=1)
    return float((predicted.numpy() == y_test).mean())


def train_keras(module: ModuleType, data: tuple, epochs: int) -> float:
    import keras

    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(0)
    model = module.build_mlp()  # channels-last input: (N, 8, 8, 1)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LR),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, verbose=0)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def train_flax(module: ModuleType, data: tuple, epochs: int) -> float:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    x_train, y_train, x_test, y_test = data
    model = module.Mlp(rngs=nnx.Rngs(0))  # channels-last input: (N, 8, 8, 1)
    optimizer = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

    def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
        probabilities = model(x)
        picked = jnp.take_along_axis(probabilities, y[:, None], axis=1)
        return -jnp.mean(jnp.log(jnp.maximum(picked, 1e-12)))

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> None:
        grads = nnx.grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)

    rng = np.random.default_rng(0)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            step(model, optimizer, jnp.asarray(x_train[idx]), jnp.asarray(y_train[idx]))
    model.eval()
    predicted = np.asarray(model(jnp.asarray(x_test)).argmax(axis=1))
    return float((predicted == y_test).mean())


TRAINERS = {"torch": train_torch, "keras": train_keras, "flax": train_flax}


def run(epochs: int, out: Path, backends: tuple[str, ...] = tuple(TRAINERS)) -> dict[str, float]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # quiet and reproducible CPU math
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    out.mkdir(parents=True, exist_ok=True)
    data = digits()
    results = {}
    for backend in backends:
        module = build(backend, out)
        results[backend] = TRAINERS[backend](module, data, epochs)
        print(f"{backend:6} test accuracy {results[backend]:.4f}  ({out / module.__name__}.py)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "native")
    args = parser.parse_args()
    run(args.epochs, args.out)


if __name__ == "__main__":
    main()
