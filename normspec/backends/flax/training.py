"""Explicit training steps of the emitted Flax model, for training-step parity.

The same compiled step as the idiomatic trainer (:mod:`normspec.backends.flax.trainer`: optax
configured explicitly from the spec, the loss read from logits through the model's ``logits``,
``nnx.jit``), run in train mode (batch statistics, running statistics updated) with dropout
disabled so that every backend computes the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax.numpy as jnp
import numpy as np
from flax import nnx

from normspec.backends.common import loss_targets
from normspec.backends.flax.runtime import mode
from normspec.backends.flax.trainer import loss_form, make_optimizer, train_step
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
