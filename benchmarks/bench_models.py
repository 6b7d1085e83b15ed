"""Generated models against hand-written ones: forward pass and one training step, per backend.

Both models of a pair are timed in the same process with the same input and the same training
step code, interleaved, and the median of the repeats is reported with the ratio
generated / hand-written (goal <= 1.03).

Run: ``python benchmarks/bench_models.py [--backends torch,keras,flax] [--repeats 15]``
"""

from __future__ import annotations

import argparse
import os
import statistics
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

SPECS = {"cifar_cnn": 32, "resnet18": 16}  # spec -> batch size


def pair(backend: str, spec_name: str, hand_written: object) -> list[tuple[str, object]]:
    """The generated model with the spec's initial weights (its input statistics set: a model
    whose ``standardize`` is not fitted refuses to run) and the hand-written one."""
    from normspec.backends import get_backend

    spec = normspec.load(HERE.parent / "specs" / f"{spec_name}.yaml")
    generated = normspec.build(spec, backend)
    get_backend(backend).set_weights(generated, spec, normspec.init_weights(spec))
    return [("generated", generated), ("hand-written", hand_written)]


def interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    for fn in fns.values():  # warm-up (compilation, caches)
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def torch_pair(spec_name: str, batch: int) -> dict[str, Callable[[], None]]:
    import torch
    from handwritten.torch_models import MODELS

    torch.manual_seed(0)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    out: dict[str, Callable[[], None]] = {}
    probs = spec_name == "cifar_cnn"
    for label, model in pair("torch", spec_name, MODELS[spec_name]()):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def forward(model: torch.nn.Module = model) -> None:
            model.eval()
            with torch.no_grad():
                model(x)

        def step(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt) -> None:
            model.train()
            opt.zero_grad()
            z = model(x)
            loss = (
                torch.nn.functional.nll_loss(torch.log(z), y)
                if probs
                else torch.nn.functional.cross_entropy(z, y)
            )
            loss.backward()
            opt.step()

        out[f"forward {label}"] = forward
        out[f"train step {label}"] = step
    return out


def keras_pair(spec_name: str, batch: int) -> dict[str, Callable[[], None]]:
    import keras
    import tensorflow as tf
    from handwritten.keras_models import MODELS

    x = tf.constant(np.random.default_rng(0).normal(size=(batch, 32, 32, 3)).astype("float32"))
    y = tf.constant(np.random.default_rng(1).integers(0, 10, batch))
    out: dict[str, Callable[[], None]] = {}
    probs = spec_name == "cifar_cnn"
    for label, model in pair("keras", spec_name, MODELS[spec_name]()):
        opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=not probs)

        @tf.function(jit_compile=False)
        def forward(model: keras.Model = model) -> tf.Tensor:
            return model(x, training=False)

        @tf.function(jit_compile=False)
        def step(model: keras.Model = model, opt=opt, loss_fn=loss_fn) -> tf.Tensor:  # type: ignore[no-untyped-def]
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        out[f"forward {label}"] = lambda f=forward: f().numpy()
        out[f"train step {label}"] = lambda s=step: s().numpy()
    return out


def flax_pair(spec_name: str, batch: int) -> dict[str, Callable[[], None]]:
    import jax
    import optax
    from flax import nnx
    from handwritten.flax_models import MODELS

    x = jax.numpy.asarray(
        np.random.default_rng(0).normal(size=(batch, 32, 32, 3)).astype("float32")
    )
    y = jax.numpy.asarray(np.random.default_rng(1).integers(0, 10, batch))
    probs = spec_name == "cifar_cnn"
    out: dict[str, Callable[[], None]] = {}
    for label, model in pair("flax", spec_name, MODELS[spec_name](rngs=nnx.Rngs(0))):
        optimizer = nnx.Optimizer(model, optax.sgd(0.01, momentum=0.9), wrt=nnx.Param)

        @nnx.jit
        def forward(model: nnx.Module) -> jax.Array:
            return model(x)

        @nnx.jit
        def step(model: nnx.Module, optimizer: nnx.Optimizer) -> jax.Array:
            def loss_fn(model: nnx.Module) -> jax.Array:
                z = model(x)
                logp = jax.numpy.log(z) if probs else jax.nn.log_softmax(z)
                return -jax.numpy.mean(jax.numpy.take_along_axis(logp, y[:, None], axis=1))

            loss, grads = nnx.value_and_grad(loss_fn)(model)
            optimizer.update(model, grads)
            return loss

        def run_forward(model: nnx.Module = model, f=forward) -> None:  # type: ignore[no-untyped-def]
            model.eval()
            f(model).block_until_ready()

        def run_step(model: nnx.Module = model, opt=optimizer, s=step) -> None:  # type: ignore[no-untyped-def]
            model.train()
            s(model, opt).block_until_ready()

        out[f"forward {label}"] = run_forward
        out[f"train step {label}"] = run_step
    return out


PAIRS = {"torch": torch_pair, "keras": keras_pair, "flax": flax_pair}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="torch,keras,flax")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(
        f"{'backend':8} {'spec':10} {'what':11} {'generated':>11} {'hand-written':>13} {'ratio':>7}"
    )
    for backend in args.backends.split(","):
        for spec_name, batch in SPECS.items():
            medians = interleaved(PAIRS[backend](spec_name, batch), args.repeats)
            for what in ("forward", "train step"):
                gen, hand = medians[f"{what} generated"], medians[f"{what} hand-written"]
                print(
                    f"{backend:8} {spec_name:10} {what:11} {gen * 1e3:9.2f}ms {hand * 1e3:11.2f}ms "
                    f"{gen / hand:7.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
