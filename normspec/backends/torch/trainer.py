"""Idiomatic PyTorch training and inference for the emitted model.

``fit`` is a plain PyTorch loop (``model.train()``, ``zero_grad``, ``backward``, ``step``) over
the mini-batches of :func:`normspec.run.data.batches`, dropout active. ``predict`` runs in eval
mode. Arrays come in and go out channels-last; the model itself is channels-first.

The loss reads logits where the spec's output is a probability: for cross-entropy after a final
softmax (or binary cross-entropy after a final sigmoid) a forward hook makes that activation
return its input during training, and the loss is computed stably from the logits, as Keras does
with ``from_logits=False`` on a softmax output and the Flax trainer does explicitly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from normspec.backends.torch.runtime import model_dtype, to_numpy, to_torch
from normspec.backends.torch.training import make_optimizer
from normspec.errors import BackendError
from normspec.ir.graph import SGD, Adam, CanonicalSpec
from normspec.run.data import batches
from normspec.run.metrics import logits_head

PREDICT_BATCH = 256
DEVICES = ("auto", "cpu", "gpu", "tpu")


def device() -> torch.device:
    """The device ``NORMSPEC_DEVICE`` asks for: ``auto`` is CUDA when there is one, else CPU."""
    wanted = os.environ.get("NORMSPEC_DEVICE", "auto")
    if wanted not in DEVICES:
        raise BackendError(f"NORMSPEC_DEVICE={wanted!r}: use one of {', '.join(DEVICES)}")
    if wanted == "tpu":
        raise BackendError(
            "--device tpu (NORMSPEC_DEVICE): the torch backend runs on cpu or gpu, not tpu"
        )
    if wanted == "gpu" and not torch.cuda.is_available():
        raise BackendError(
            "--device gpu (NORMSPEC_DEVICE) was asked for, but PyTorch sees no CUDA device"
        )
    use_cuda = wanted == "gpu" or (wanted == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def _final_activation(spec: CanonicalSpec) -> str | None:
    """``softmax``/``sigmoid`` when the loss reads the logits entering it, else None."""
    head = logits_head(spec)
    return head.function if head is not None else None


@contextmanager
def _logits_output(model: nn.Module, spec: CanonicalSpec) -> Iterator[str | None]:
    """For the duration, the final softmax/sigmoid module returns its input (the logits) in
    train mode; in eval mode (``predict``, also from an epoch callback) it stays the
    activation. Yields that activation's name, or None when the model output already is what
    the loss reads."""
    function = _final_activation(spec)
    if function is None:
        yield None
        return
    module = model.get_submodule(spec.layers[-1].name)

    def logits_in_training(m: nn.Module, args: tuple[Any, ...], out: Any) -> Any:
        return args[0] if m.training else None  # None keeps the module's own output

    handle = module.register_forward_hook(logits_in_training)
    try:
        yield function
    finally:
        handle.remove()


def _targets(spec: CanonicalSpec, y: np.ndarray, dtype: torch.dtype, dev: torch.device) -> Any:
    """Class ids for cross-entropy; floats shaped like the output (channels-first) otherwise."""
    if spec.train.loss == "cross_entropy":
        return torch.from_numpy(np.asarray(y, dtype=np.int64).reshape(-1)).to(dev)
    t = np.asarray(y).reshape(len(y), *spec.output_shape)
    return to_torch(t, dtype).to(dev)


def _loss(spec: CanonicalSpec, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean loss of ``spec.train.loss``; ``z`` is logits for the cross-entropies."""
    if spec.train.loss == "cross_entropy":
        return F.cross_entropy(z, t, reduction="mean")
    if spec.train.loss == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(z, t, reduction="mean")
    return F.mse_loss(z, t, reduction="mean")


def _accuracy(spec: CanonicalSpec, z: torch.Tensor, t: torch.Tensor, head: str | None) -> float:
    """Batch accuracy from the model's actual outputs (probabilities after a final head)."""
    if spec.train.loss == "cross_entropy":
        return float((z.argmax(dim=1) == t).double().mean())
    if spec.train.loss == "binary_cross_entropy":
        out, threshold = (torch.sigmoid(z), 0.5) if head == "sigmoid" else (z, 0.0)
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
        with torch.random.fork_rng(devices=cuda), _logits_output(model, spec) as head:
            torch.manual_seed(seed)
            model.train()
            for epoch in range(epochs):
                losses, accuracies = [], []
                for step, (x, y) in enumerate(
                    batches(data.x_train, data.y_train, batch_size, seed=seed, epoch=epoch)
                ):
                    inputs, t = to_torch(x, dtype).to(dev), _targets(spec, y, dtype, dev)
                    opt.zero_grad(set_to_none=True)
                    z = model(inputs)
                    loss = _loss(spec, z, t)
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
                    accuracies.append(_accuracy(spec, z.detach(), t, head))
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
    """Eval-mode outputs (channels-last numpy), in batches of ``PREDICT_BATCH``."""
    dev, dtype = device(), model_dtype(spec)
    home = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.to(dev).eval()
    try:
        with torch.inference_mode():
            parts = [
                to_numpy(model(to_torch(x[i : i + PREDICT_BATCH], dtype).to(dev)))
                for i in range(0, len(x), PREDICT_BATCH)
            ]
    finally:
        model.train(was_training)
        model.to(home)
    if not parts:
        return np.zeros((0, *spec.output_shape), dtype=spec.input.dtype)
    return np.concatenate(parts)
