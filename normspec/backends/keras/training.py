"""Training the emitted Keras model: explicit GradientTape steps (for parity) and ``fit``.

The loss reads logits: the input of a final softmax (cross-entropy) or sigmoid (binary
cross-entropy), else the output itself, through a second functional model over the same layers.
Optimizers come from :mod:`normspec.backends.keras.optimizers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from normspec.backends.keras.optimizers import make_optimizer
from normspec.backends.keras.runtime import dropout_disabled
from normspec.ir import ops as ir
from normspec.ir.graph import SGD, Adam, CanonicalSpec
from normspec.run.data import batches as epoch_batches
from normspec.run.metrics import targets


def _reads_pre_activation(spec: CanonicalSpec) -> bool:
    last = spec.layers[-1]
    wanted = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
    return isinstance(last, ir.Activation) and last.function == wanted.get(spec.train.loss)


def loss_head(model: keras.Model, spec: CanonicalSpec) -> keras.Model:
    """``model``, or a model over the same layers ending before its final softmax/sigmoid."""
    if not _reads_pre_activation(spec):
        return model
    logits = model.get_layer(spec.layers[-1].name).input
    return keras.Model(inputs=model.inputs, outputs=logits, name=f"{model.name}_logits")


def loss_function(spec: CanonicalSpec) -> Callable[[Any, Any], Any]:
    """``loss(targets, logits_or_outputs)``, a mean over the batch (and every element)."""
    if spec.train.loss == "cross_entropy":
        return lambda t, z: ops.mean(ops.sparse_categorical_crossentropy(t, z, from_logits=True))
    if spec.train.loss == "binary_cross_entropy":
        return lambda t, z: ops.mean(ops.binary_crossentropy(t, z, from_logits=True))
    return lambda t, z: ops.mean(ops.square(z - t))


def _targets(spec: CanonicalSpec, y: np.ndarray) -> np.ndarray:
    t = targets(spec, np.asarray(y))
    return t if spec.train.loss == "cross_entropy" else t.astype(spec.input.dtype)


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
                loss = loss_fn(_targets(spec, y), head(inputs, training=True))
            optimizer.apply(tape.gradient(loss, variables), variables)
            losses.append(float(loss))
    return losses


class _EpochBatches(keras.utils.PyDataset):
    def __init__(self, items: list[tuple[np.ndarray, np.ndarray]]) -> None:
        super().__init__()
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.items[index]


def _keras_loss(spec: CanonicalSpec) -> keras.losses.Loss:
    if spec.train.loss == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec.train.loss == "binary_cross_entropy":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def _metrics(spec: CanonicalSpec) -> list[keras.metrics.Metric]:
    if spec.train.loss == "cross_entropy":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if spec.train.loss == "binary_cross_entropy":  # the head outputs logits: threshold 0
        return [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    return []


def fit(
    model: keras.Model,
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
    """Idiomatic Keras training (compile + fit, dropout active) on the shared batch order."""
    head = loss_head(model, spec)
    head.compile(
        optimizer=make_optimizer(optimizer), loss=_keras_loss(spec), metrics=_metrics(spec)
    )
    callbacks = []
    if on_batch_end is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_train_batch_end=lambda batch, logs: on_batch_end(batch)
            )
        )
    for epoch in range(epochs):
        items = [
            (np.asarray(x, dtype=spec.input.dtype), _targets(spec, y))
            for x, y in epoch_batches(
                data.x_train, data.y_train, batch_size, seed=seed, epoch=epoch
            )
        ]
        history = head.fit(
            _EpochBatches(items), epochs=1, shuffle=False, verbose=0, callbacks=callbacks
        )
        if on_epoch_end is not None:
            logs = history.history
            accuracy = logs["accuracy"][-1] if "accuracy" in logs else math.nan
            on_epoch_end(epoch, {"loss": float(logs["loss"][-1]), "accuracy": float(accuracy)})
