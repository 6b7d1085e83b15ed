"""Idiomatic Keras training and inference for the emitted model: ``compile`` + ``fit``.

``fit`` feeds one ``model.fit`` the mini-batches of every epoch, those of
:func:`normspec.batching.batches` in their order, through a ``tf.data`` pipeline, and reports
each epoch through a ``keras.callbacks.Callback``. Dropout is active during training.

The loss is compiled on the model itself. After a final softmax (sigmoid) the loss is
``SparseCategoricalCrossentropy`` (``BinaryCrossentropy``) with ``from_logits=False``: on
TensorFlow, Keras then finds the activation's input and computes the loss from the logits,
stably, as the other backends do explicitly. Any other output, such as that of a model that
returns logits (``output: {logits: true}``), is taken as logits (``from_logits=True``).

Imported through :func:`normspec.backends.keras.load`, which sets the TensorFlow environment
defaults before Keras is imported.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from normspec.backends.common import (
    loss_targets,
    missing_device,
    prediction_batches,
    requested_device,
)
from normspec.backends.keras.optimizers import make_optimizer
from normspec.batching import batch_indices
from normspec.heads import applied_head
from normspec.ir.graph import SGD, Adam, CanonicalSpec

__all__ = ["fit", "make_optimizer", "predict"]


@contextlib.contextmanager
def device_scope() -> Iterator[None]:
    """Where ``NORMSPEC_DEVICE`` asks TensorFlow to run: ``auto`` and ``gpu``/``tpu`` use the
    default placement (``gpu``/``tpu`` only when TensorFlow has such a device), ``cpu`` pins
    every op to the CPU."""
    wanted = requested_device()
    if wanted in ("gpu", "tpu") and not tf.config.list_logical_devices(wanted.upper()):
        raise missing_device(wanted, "TensorFlow")
    with tf.device("/CPU:0") if wanted == "cpu" else contextlib.nullcontext():
        yield


def _final_activation(spec: CanonicalSpec) -> str | None:
    """``softmax``/``sigmoid`` when the loss reads the logits entering it, else None."""
    head = applied_head(spec)
    return head.function if head is not None else None


def make_loss(spec: CanonicalSpec) -> keras.losses.Loss:
    """The spec's loss, a mean over the batch (and every output element), in the model dtype."""
    probabilities = _final_activation(spec) is not None
    dtype = spec.input.dtype
    if spec.train.loss == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=not probabilities, dtype=dtype
        )
    if spec.train.loss == "binary_cross_entropy":
        return keras.losses.BinaryCrossentropy(from_logits=not probabilities, dtype=dtype)
    return keras.losses.MeanSquaredError(dtype=dtype)


def _accuracy(spec: CanonicalSpec) -> Callable[[Any, Any], Any] | None:
    """Fraction of correct predictions in one batch, from the model's outputs."""
    if spec.train.loss == "cross_entropy":
        return lambda t, out: ops.mean(
            ops.cast(ops.equal(ops.argmax(out, axis=-1), ops.reshape(t, (-1,))), "float64")
        )
    if spec.train.loss == "binary_cross_entropy":
        threshold = 0.5 if _final_activation(spec) == "sigmoid" else 0.0
        return lambda t, out: ops.mean(ops.cast((out > threshold) == (t > 0.5), "float64"))
    return None


class BatchMean(keras.metrics.Metric):
    """The unweighted mean over batches of ``fn(y_true, y_pred)``.

    Keras' own epoch loss and accuracy weight each batch by its size; normspec reports the mean
    batch value in every backend, which differs when the last batch is short.
    """

    def __init__(self, fn: Callable[[Any, Any], Any], name: str) -> None:
        super().__init__(name=name, dtype="float64")
        self.fn = fn
        self.total = self.add_variable((), "zeros", dtype="float64", name="total")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self.total.assign_add(ops.cast(self.fn(y_true, y_pred), "float64"))
        self.count.assign_add(ops.cast(1.0, "float64"))

    def result(self) -> Any:
        return self.total / self.count


def training_batches(
    spec: CanonicalSpec, data: Any, batch_size: int, seed: int, epochs: int
) -> tuple[tf.data.Dataset, int]:
    """The mini-batches of :func:`normspec.batching.batches` for every epoch, in order, as one
    ``tf.data`` pipeline that gathers each batch from the training set (labels in the form the
    loss wants), and the number of batches per epoch.

    One ``fit`` then runs every epoch: a ``fit`` per epoch costs Keras a new data pipeline each
    epoch, and a ``PyDataset`` far more page faults and system time."""
    picks = [
        idx
        for epoch in range(epochs)
        for idx in batch_indices(len(data.x_train), batch_size, seed=seed, epoch=epoch)
    ]
    order = tf.RaggedTensor.from_row_lengths(np.concatenate(picks), [len(idx) for idx in picks])
    x = np.asarray(data.x_train, dtype=spec.input.dtype)
    arrays = tf.data.Dataset.from_tensors((x, loss_targets(spec, data.y_train))).repeat()
    pipeline = tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(order), arrays).map(
        lambda idx, xy: (tf.gather(xy[0], idx), tf.gather(xy[1], idx)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return pipeline.prefetch(tf.data.AUTOTUNE), len(picks) // epochs


class EpochEnd(keras.callbacks.Callback):
    """Passes Keras' epoch end to normspec's callback (no batch hook, so Keras keeps its
    asynchronous batch callbacks)."""

    def __init__(self, on_epoch_end: Callable[[int, dict[str, float]], None] | None) -> None:
        super().__init__()
        self.epoch_end = on_epoch_end

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.epoch_end is not None:
            logs = logs or {}
            accuracy = float(logs["batch_accuracy"]) if "batch_accuracy" in logs else math.nan
            self.epoch_end(epoch, {"loss": float(logs["batch_loss"]), "accuracy": accuracy})


class BatchEnd(EpochEnd):
    """Also passes each batch end (progress), which makes Keras call back after every batch."""

    def __init__(
        self,
        on_batch_end: Callable[[int], None],
        on_epoch_end: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        super().__init__(on_epoch_end)
        self.batch_end = on_batch_end

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.batch_end(batch)


def seed_dropout(model: keras.Model, seed: int) -> None:
    """Reset the random state of every dropout layer from ``seed`` (one stream per layer), so
    the same seed draws the same masks however often the model was built or trained before."""
    dropouts = [layer for layer in model.layers if hasattr(layer, "seed_generator")]
    streams = np.random.SeedSequence(seed).spawn(len(dropouts))
    for layer, stream in zip(dropouts, streams, strict=True):
        state = layer.seed_generator.state
        start = int(stream.generate_state(1)[0] % 2**31)
        state.assign(np.array([start, 0], dtype=state.dtype))


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
    """Train ``model`` in place on ``data`` (:class:`normspec.run.data.Dataset`) with
    ``model.compile`` and ``model.fit``."""
    metrics = [BatchMean(make_loss(spec), "batch_loss")]
    accuracy = _accuracy(spec)
    if accuracy is not None:
        metrics.append(BatchMean(accuracy, "batch_accuracy"))
    with device_scope():
        model.compile(optimizer=make_optimizer(optimizer), loss=make_loss(spec), metrics=metrics)
        seed_dropout(model, seed)
        report = (
            EpochEnd(on_epoch_end) if on_batch_end is None else BatchEnd(on_batch_end, on_epoch_end)
        )
        pipeline, steps = training_batches(spec, data, batch_size, seed, epochs)
        model.fit(
            pipeline,
            epochs=epochs,
            steps_per_epoch=steps,
            shuffle=False,
            verbose=0,
            callbacks=[report],
        )


def predict(model: keras.Model, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
    """Eval-mode outputs (channels-last numpy), in batches of
    :data:`~normspec.backends.common.PREDICT_BATCH`: ``predict_on_batch`` runs Keras' compiled
    predict step on each (``predict`` itself builds a data pipeline at every call, which costs
    more than the forward passes of a validation split)."""
    inputs = np.asarray(x, dtype=spec.input.dtype)
    with device_scope():
        parts = [model.predict_on_batch(inputs[part]) for part in prediction_batches(len(inputs))]
    return np.concatenate(parts) if parts else np.zeros((0, *spec.output_shape), inputs.dtype)
