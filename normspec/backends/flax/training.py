"""Explicit training steps of the emitted Flax model, for training-step parity.

The same compiled step as the idiomatic trainer (:mod:`normspec.backends.flax.trainer`: optax
configured explicitly from the spec, the loss read from logits through the model's ``logits``,
``nnx.jit``), run in train mode (batch statistics, running statistics updated) with dropout
disabled so that every backend computes the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from normspec.backends.common import loss_targets
from normspec.backends.flax import runtime
from normspec.backends.flax.runtime import mode
from normspec.backends.flax.trainer import (
    LossForm,
    loss_form,
    loss_value,
    make_optimizer,
    train_step,
)
from normspec.ir.graph import CanonicalSpec


def train_steps(
    model: nnx.Module, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> list[float]:
    """One optimizer step of ``spec.train`` per batch; returns the losses before each step."""
    form = loss_form(spec)
    optimizer = nnx.Optimizer(model, make_optimizer(spec.train.optimizer), wrt=nnx.Param)
    losses = []
    with mode(model, train=True, dropout=False):
        for x, y in batches:
            t = jnp.asarray(loss_targets(spec, y))
            inputs = jnp.asarray(np.asarray(x, dtype=spec.input.dtype))
            loss, _ = train_step(model, optimizer, inputs, t, form)
            losses.append(float(loss))
    return losses


def _loss_of(model: nnx.Module, x: jax.Array, t: jax.Array, form: LossForm) -> jax.Array:
    """The spec's loss, read from the logits where the output has a softmax/sigmoid head."""
    z = model(x) if form.head is None else model.logits(x)  # type: ignore[attr-defined]
    return loss_value(form, z, t)


def _gradient_state(model: nnx.Module, x: jax.Array, t: jax.Array, form: LossForm) -> Any:
    return nnx.grad(_loss_of)(model, x, t, form)


_grad: Callable[..., Any] = nnx.jit(_gradient_state, static_argnames="form")
"""The gradients of the loss with respect to the model's ``nnx.Param`` variables, compiled
(``form`` is static)."""


def gradients(
    model: nnx.Module, spec: CanonicalSpec, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """The loss's gradient for every trainable canonical weight (``nnx.grad`` with respect to
    the ``nnx.Param`` variables), in train mode with dropout off; the running statistics
    are put back."""
    saved = runtime.get_weights(model, spec)
    inputs = jnp.asarray(np.asarray(x, dtype=spec.input.dtype))
    try:
        with mode(model, train=True, dropout=False):
            grads = _grad(model, inputs, jnp.asarray(loss_targets(spec, y)), loss_form(spec))
    finally:
        runtime.set_weights(model, spec, saved)
    out: dict[str, np.ndarray] = {}
    for key, path in runtime.trainable_paths(spec):
        found: Any = grads
        for part in path:
            found = found[part]
        out[key] = np.asarray(found.get_value())
    return out
