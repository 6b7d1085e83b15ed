"""Idiomatic PyTorch training and inference for the emitted model.

``fit`` is a plain PyTorch loop (``model.train()``, ``zero_grad``, ``backward``, ``step``) over
the mini-batches of :func:`normspec.batching.batches`, dropout active. ``predict`` runs in eval
mode. Arrays come in and go out channels-last; the model itself is channels-first.

The loss is :func:`normspec.backends.torch.training.loss_function`, the one of the parity steps:
after a final softmax (sigmoid) it reads the logits entering the activation, stably, as Keras
does with ``from_logits=False`` on a softmax output and the Flax trainer does explicitly; the
output of a model that returns logits (``output: {logits: true}``) is read as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from normspec.backends.common import missing_device, prediction_batches, requested_device
from normspec.backends.torch.runtime import model_dtype, to_numpy, to_torch
from normspec.backends.torch.training import loss_function, make_optimizer, targets
from normspec.batching import batches
from normspec.errors import BackendError
from normspec.heads import applied_head
from normspec.ir.graph import SGD, Adam, CanonicalSpec


def device() -> torch.device:
    """The device ``NORMSPEC_DEVICE`` asks for: ``auto`` is CUDA when there is one, else CPU."""
    wanted = requested_device()
    if wanted == "tpu":
        raise BackendError(
            "--device tpu (NORMSPEC_DEVICE): the torch backend runs on cpu or gpu, not tpu"
        )
    if wanted == "gpu" and not torch.cuda.is_available():
        raise missing_device("gpu", "PyTorch (CUDA)")
    use_cuda = wanted == "gpu" or (wanted == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def _accuracy(spec: CanonicalSpec, out: torch.Tensor, t: torch.Tensor) -> float:
    """Batch accuracy from the model's outputs (probabilities after a final softmax/sigmoid,
    logits otherwise)."""
    if spec.train.loss == "cross_entropy":
        return float((out.argmax(dim=1) == t).double().mean())
    if spec.train.loss == "binary_cross_entropy":
        threshold = 0.5 if applied_head(spec) is not None else 0.0
        return float(((out > threshold) == (t > 0.5)).double().mean())
    return math.nan


def fit(
    model: nn.Module,
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
    """Train ``model`` in place on ``data`` (:class:`normspec.run.data.Dataset`).

    Dropout draws from PyTorch's global generator, seeded from ``seed`` inside
    ``torch.random.fork_rng`` so the caller's random state is left alone. The model returns to
    its original device and mode afterwards.
    """
    dev, dtype = device(), model_dtype(spec)
    home = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.to(dev)
    opt = make_optimizer(model.parameters(), optimizer)
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda), loss_function(model, spec) as compute:
            torch.manual_seed(seed)
            model.train()
            for epoch in range(epochs):
                losses, accuracies = [], []
                for step, (x, y) in enumerate(
                    batches(data.x_train, data.y_train, batch_size, seed=seed, epoch=epoch)
                ):
                    inputs, t = to_torch(x, dtype).to(dev), targets(spec, y, dtype).to(dev)
                    opt.zero_grad(set_to_none=True)
                    loss, out = compute(inputs, t)
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
                    accuracies.append(_accuracy(spec, out.detach(), t))
                    if on_batch_end is not None:
                        on_batch_end(step)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, _epoch_metrics(losses, accuracies))
    finally:
        model.train(was_training)
        model.to(home)


def _epoch_metrics(losses: list[float], accuracies: list[float]) -> dict[str, float]:
    return {"loss": float(np.mean(losses)), "accuracy": float(np.mean(accuracies))}


def predict(model: nn.Module, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
    """Eval-mode outputs (channels-last numpy), in batches of
    :data:`~normspec.backends.common.PREDICT_BATCH`."""
    dev, dtype = device(), model_dtype(spec)
    home = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.to(dev).eval()
    try:
        with torch.inference_mode():
            parts = [
                to_numpy(model(to_torch(x[part], dtype).to(dev)))
                for part in prediction_batches(len(x))
            ]
    finally:
        model.train(was_training)
        model.to(home)
    if not parts:
        return np.zeros((0, *spec.output_shape), dtype=spec.input.dtype)
    return np.concatenate(parts)
