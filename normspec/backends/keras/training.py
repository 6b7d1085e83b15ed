"""Explicit GradientTape training steps of the emitted Keras model, for training-step parity.

The loss reads logits: the input of a final softmax (cross-entropy) or sigmoid (binary
cross-entropy), else the output itself, through a second functional model over the same layers.
Optimizers come from :mod:`normspec.backends.keras.optimizers`; the idiomatic ``fit`` is in
:mod:`normspec.backends.keras.trainer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from normspec.backends.common import loss_targets
from normspec.backends.keras import runtime
from normspec.backends.keras.optimizers import make_optimizer
from normspec.backends.keras.runtime import dropout_disabled
from normspec.heads import applied_head
from normspec.ir.graph import CanonicalSpec


def loss_head(model: keras.Model, spec: CanonicalSpec) -> keras.Model:
    """``model``, or a model over the same layers ending before its final softmax/sigmoid."""
    if applied_head(spec) is None:
        return model
    logits = model.get_layer(spec.output_name).input
    return keras.Model(inputs=model.inputs, outputs=logits, name=f"{model.name}_logits")


def loss_function(spec: CanonicalSpec) -> Callable[[Any, Any], Any]:
    """``loss(targets, logits_or_outputs)``, a mean over the batch (and every element)."""
    if spec.train.loss == "cross_entropy":
        return lambda t, z: ops.mean(ops.sparse_categorical_crossentropy(t, z, from_logits=True))
    if spec.train.loss == "binary_cross_entropy":
        return lambda t, z: ops.mean(ops.binary_crossentropy(t, z, from_logits=True))
    return lambda t, z: ops.mean(ops.square(z - t))


def train_steps(
    model: keras.Model, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> list[float]:
    """One optimizer step per batch in train mode (batch statistics, running statistics
    updated), dropout disabled; returns the losses before each step."""
    head, loss_fn = loss_head(model, spec), loss_function(spec)
    optimizer = make_optimizer(spec.train.optimizer)
    variables = head.trainable_variables
    losses = []
    with dropout_disabled(model):
        for x, y in batches:
            inputs = ops.convert_to_tensor(np.asarray(x, dtype=spec.input.dtype))
            with tf.GradientTape() as tape:
                loss = loss_fn(loss_targets(spec, y), head(inputs, training=True))
            optimizer.apply(tape.gradient(loss, variables), variables)
            losses.append(float(loss))
    return losses


def gradients(
    model: keras.Model, spec: CanonicalSpec, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """The loss's gradient for every trainable canonical weight, in train mode with dropout
    off (``tf.GradientTape``); the running statistics are put back."""
    head, loss_fn = loss_head(model, spec), loss_function(spec)
    keyed = runtime.trainable_variables(model, spec)
    saved = runtime.get_weights(model, spec)
    try:
        with dropout_disabled(model):
            inputs = ops.convert_to_tensor(np.asarray(x, dtype=spec.input.dtype))
            with tf.GradientTape() as tape:
                loss = loss_fn(loss_targets(spec, y), head(inputs, training=True))
            grads = tape.gradient(loss, [variable for _, variable in keyed])
    finally:
        runtime.set_weights(model, spec, saved)
    return {
        key: np.zeros(variable.shape, variable.dtype) if g is None else np.asarray(g)
        for (key, variable), g in zip(keyed, grads, strict=True)
    }
