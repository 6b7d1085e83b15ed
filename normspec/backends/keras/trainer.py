"""Idiomatic Keras training and inference for the emitted model: ``compile`` + ``fit``.

``fit`` feeds Keras the mini-batches of :func:`normspec.batching.batches` through a
``keras.utils.PyDataset`` (``shuffle=False``, so Keras keeps normspec's order) and reports each
epoch through a ``keras.callbacks.Callback``. Dropout is active during training.

The loss is compiled on the model itself. After a final softmax (sigmoid) the loss is
``SparseCategoricalCrossentropy`` (``BinaryCrossentropy``) with ``from_logits=False``: on
TensorFlow, Keras then finds the activation's input and computes the loss from the logits,
stably, as the other backends do explicitly. Any other output is taken as logits.

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

from normspec.backends import common
from normspec.backends.common import loss_targets, missing_device, requested_device
from normspec.backends.keras.optimizers import make_optimizer
from normspec.batching import batches
from normspec.heads import logits_head
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
    head = logits_head(spec)
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


class EpochBatches(keras.utils.PyDataset):
    """The batches of :func:`normspec.batching.batches` for one epoch, chosen with
    :meth:`set_epoch` (Keras' own ``on_epoch_end`` hook also runs after its signature probe, so
    it cannot count epochs). Labels come in the form the loss wants."""

    def __init__(self, spec: CanonicalSpec, data: Any, batch_size: int, seed: int) -> None:
        super().__init__()
        self.spec, self.data, self.batch_size, self.seed = spec, data, batch_size, seed
        self.epoch = -1
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            d, dtype = self.data, self.spec.input.dtype
            items = batches(d.x_train, d.y_train, self.batch_size, seed=self.seed, epoch=epoch)
            self._items = [(np.asarray(x, dtype=dtype), self._labels(y)) for x, y in items]
            self.epoch = epoch

    def _labels(self, y: np.ndarray) -> np.ndarray:
        return loss_targets(self.spec, y)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._items[index]


class Report(keras.callbacks.Callback):
    """Selects each epoch's batches as Keras begins it, and passes Keras' batch and epoch ends
    to normspec's callbacks."""

    def __init__(
        self,
        data: EpochBatches,
        on_batch_end: Callable[[int], None] | None,
        on_epoch_end: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        super().__init__()
        self.data, self.batch_end, self.epoch_end = data, on_batch_end, on_epoch_end

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.data.set_epoch(epoch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.batch_end is not None:
            self.batch_end(batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.epoch_end is not None:
            logs = logs or {}
            accuracy = float(logs["batch_accuracy"]) if "batch_accuracy" in logs else math.nan
            self.epoch_end(epoch, {"loss": float(logs["batch_loss"]), "accuracy": accuracy})


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
        epoch_batches = EpochBatches(spec, data, batch_size, seed)
        model.fit(
            epoch_batches,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[Report(epoch_batches, on_batch_end, on_epoch_end)],
        )


def predict(model: keras.Model, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
    """Eval-mode outputs (channels-last numpy), in batches of
    :data:`~normspec.backends.common.PREDICT_BATCH`."""
    inputs = np.asarray(x, dtype=spec.input.dtype)
    with device_scope():
        return np.asarray(model.predict(inputs, batch_size=common.PREDICT_BATCH, verbose=0))
