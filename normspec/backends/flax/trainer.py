"""Idiomatic Flax NNX training and inference for the emitted model: optax, ``nnx.Optimizer``
and a train step compiled with ``nnx.jit``.

``fit`` runs one compiled step per mini-batch of :func:`normspec.batching.batches`, with batch
statistics and dropout active. ``predict`` runs in eval mode. Arrays are channels-last
throughout, as in the model.

The loss reads logits where the spec's output is a probability: the emitted model then has a
``logits`` method, the network before its final softmax/sigmoid, and the step applies that
activation itself for the accuracy (the function ``__call__`` applies); a model that returns
logits (``output: {logits: true}``) is read as it is. Cross-entropy is ``log_softmax`` of the
logits and binary cross-entropy the stable log-sigmoid form, as in the other backends.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from normspec.backends.common import (
    loss_targets,
    missing_device,
    prediction_batches,
    requested_device,
)
from normspec.backends.flax.runtime import HEADS, apply, mode
from normspec.batching import batches
from normspec.heads import applied_head
from normspec.ir.graph import SGD, Adam, CanonicalSpec


@contextlib.contextmanager
def device_scope() -> Iterator[None]:
    """Run on the device ``NORMSPEC_DEVICE`` asks for: ``auto`` is JAX's default device;
    ``cpu``, ``gpu`` and ``tpu`` the first such device, an error when JAX has none."""
    wanted = requested_device()
    if wanted == "auto":
        yield
        return
    try:
        device = jax.devices(wanted)[0]
    except RuntimeError:
        raise missing_device(wanted, "JAX") from None
    with jax.default_device(device):
        yield


def make_optimizer(opt: SGD | Adam) -> optax.GradientTransformation:
    """The spec's optimizer. ``optax.sgd`` (``t = g + momentum * t``, Nesterov
    ``g + momentum * t``; ``p -= lr * ...``) is PyTorch's form, and ``optax.adam`` adds
    ``eps`` to ``sqrt(v_hat)`` as PyTorch does (``eps_root`` stays 0)."""
    if isinstance(opt, SGD):
        return optax.sgd(opt.learning_rate, momentum=opt.momentum or None, nesterov=opt.nesterov)
    return optax.adam(opt.learning_rate, b1=opt.beta1, b2=opt.beta2, eps=opt.epsilon, eps_root=0.0)


@dataclass(frozen=True)
class LossForm:
    """What the compiled step computes (static, so it is part of the compilation key).

    ``head`` is the final activation the loss reads through (``softmax``/``sigmoid``; the
    model's ``logits`` method gives its input) or None."""

    loss: str
    head: str | None


def loss_form(spec: CanonicalSpec) -> LossForm:
    last = applied_head(spec)
    return LossForm(spec.train.loss, None if last is None else last.function)


def loss_value(form: LossForm, z: jax.Array, t: jax.Array) -> jax.Array:
    """Mean loss; ``z`` is logits for the cross-entropies."""
    if form.loss == "cross_entropy":
        logp = jax.nn.log_softmax(z, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, t[:, None], axis=-1))
    if form.loss == "binary_cross_entropy":
        return jnp.mean(optax.sigmoid_binary_cross_entropy(z, t))
    return jnp.mean(jnp.square(z - t))


def _correct(form: LossForm, out: jax.Array, t: jax.Array) -> jax.Array:
    """How many predictions in the batch are right, from the model's outputs (probabilities
    after a final head); counted, not averaged, so the mean is taken in float64 on the host."""
    if form.loss == "cross_entropy":
        return jnp.sum(jnp.argmax(out, axis=-1) == t)
    if form.loss == "binary_cross_entropy":
        threshold = 0.5 if form.head == "sigmoid" else 0.0
        return jnp.sum((out > threshold) == (t > 0.5))
    return jnp.array(-1)


def _train_step(
    model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, t: jax.Array, form: LossForm
) -> tuple[jax.Array, jax.Array]:
    """One optimizer step; returns the batch loss and the number of right predictions (-1 for
    regression), both from before the update."""

    def loss_fn(model: nnx.Module) -> tuple[jax.Array, jax.Array]:
        if form.head is None:
            out = z = model(x)
        else:
            z = model.logits(x)  # type: ignore[attr-defined]
            out = HEADS[form.head](z)
        return loss_value(form, z, t), out

    (loss, out), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss, _correct(form, out, t)


train_step: Callable[..., tuple[jax.Array, jax.Array]] = nnx.jit(
    _train_step, static_argnames="form"
)
"""The compiled step (``form`` is static: one compilation per loss form)."""


def seed_dropout(model: nnx.Module, seed: int) -> None:
    """Give every dropout layer its own random stream derived from ``seed`` (count reset), so
    the same seed draws the same masks however the model was built or used before."""
    dropouts = [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Dropout)]
    for i, layer in enumerate(dropouts):
        if isinstance(layer.rngs, nnx.RngStream):
            key = layer.rngs.key
            root = jax.random.key(seed, impl=jax.random.key_impl(key[...]))
            key.set_value(jax.random.fold_in(root, i))
            layer.rngs.count.set_value(jnp.zeros_like(layer.rngs.count[...]))


def _targets(spec: CanonicalSpec, y: np.ndarray) -> jax.Array:
    return jnp.asarray(loss_targets(spec, y))


def fit(
    model: nnx.Module,
    spec: CanonicalSpec,
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    optimizer: SGD | Adam,
    on_batch_end: Callable[[int], None] | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> None:
    """Train ``model`` in place on ``data`` (:class:`normspec.run.data.Dataset`)."""
    form, dtype = loss_form(spec), spec.input.dtype
    with device_scope(), mode(model, train=True, dropout=True):
        opt = nnx.Optimizer(model, make_optimizer(optimizer), wrt=nnx.Param)
        seed_dropout(model, seed)
        for epoch in range(epochs):
            results = []  # device scalars: read once per epoch, so steps dispatch ahead
            for step, (x, y) in enumerate(
                batches(data.x_train, data.y_train, batch_size, seed=seed, epoch=epoch)
            ):
                inputs = jnp.asarray(np.asarray(x, dtype=dtype))
                loss, correct = train_step(model, opt, inputs, _targets(spec, y), form)
                results.append((loss, correct, len(x)))
                if on_batch_end is not None:
                    on_batch_end(step)
            if on_epoch_end is not None:
                on_epoch_end(epoch, _epoch_metrics(results))


def _epoch_metrics(results: list[tuple[jax.Array, jax.Array, int]]) -> dict[str, float]:
    """Mean batch loss and mean batch accuracy (NaN for regression)."""
    losses = [float(loss) for loss, _, _ in results]
    accuracies = [int(c) / n if int(c) >= 0 else math.nan for _, c, n in results]
    return {"loss": float(np.mean(losses)), "accuracy": float(np.mean(accuracies))}


def predict(model: nnx.Module, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
    """Eval-mode outputs (channels-last numpy), in batches of
    :data:`~normspec.backends.common.PREDICT_BATCH`."""
    data = np.asarray(x, dtype=spec.input.dtype)
    with device_scope(), mode(model, train=False, dropout=False):
        parts = [
            np.asarray(apply(model, jnp.asarray(data[part])))
            for part in prediction_batches(len(data))
        ]
    return np.concatenate(parts) if parts else np.zeros((0, *spec.output_shape), data.dtype)
