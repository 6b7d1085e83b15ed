"""Optimizer steps on a generated PyTorch model, for training-step parity: the spec's loss and
optimizer, dropout disabled, batch statistics used and running statistics updated.

The update rules are the spec's, configured explicitly (``torch.optim.SGD`` is the canonical SGD
form; ``torch.optim.Adam`` adds epsilon to sqrt(v_hat), the canonical Adam form). The idiomatic
training loop (``fit``) and ``predict`` are in :mod:`normspec.backends.torch.trainer`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from normspec import heads
from normspec.backends.torch import runtime
from normspec.backends.torch.runtime import mode, model_dtype, to_torch
from normspec.ir.graph import SGD, Adam, CanonicalSpec


def make_optimizer(params: Iterable[nn.Parameter], optimizer: SGD | Adam) -> torch.optim.Optimizer:
    """The spec's optimizer with every hyperparameter given explicitly."""
    if isinstance(optimizer, SGD):
        return torch.optim.SGD(
            params,
            lr=optimizer.learning_rate,
            momentum=optimizer.momentum,
            dampening=0.0,
            weight_decay=0.0,
            # torch refuses Nesterov without momentum; with none it is plain SGD anyway.
            nesterov=optimizer.nesterov and optimizer.momentum > 0,
        )
    return torch.optim.Adam(
        params,
        lr=optimizer.learning_rate,
        betas=(optimizer.beta1, optimizer.beta2),
        eps=optimizer.epsilon,
        weight_decay=0.0,
        amsgrad=False,
    )


def targets(spec: CanonicalSpec, y: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """Class ids for cross-entropy; floats shaped like the output (channels-first) otherwise."""
    if spec.train.loss == "cross_entropy":
        return torch.from_numpy(heads.targets(spec, y))
    return to_torch(heads.targets(spec, y), dtype)


LossFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``(x, targets) -> (loss, output)``: runs the model on ``x``."""


@contextlib.contextmanager
def loss_function(model: nn.Module, spec: CanonicalSpec) -> Iterator[LossFn]:
    """The spec's loss on ``model``. The input of a final softmax or sigmoid, caught by a
    forward hook, is the loss's logits, so it is computed in the stable log-sum-exp form; the
    model's own output (probabilities) is left as it is, for accuracy and for ``predict``."""
    captured: dict[str, torch.Tensor] = {}
    head = heads.applied_head(spec)
    handle = None
    if head is not None:
        handle = model.get_submodule(head.name).register_forward_hook(
            lambda module, args, out: captured.__setitem__("logits", args[0])
        )

    def compute(x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(x)
        logits = captured.pop("logits") if head is not None else out
        if spec.train.loss == "cross_entropy":
            return F.cross_entropy(logits, target, reduction="mean"), out
        if spec.train.loss == "binary_cross_entropy":
            return F.binary_cross_entropy_with_logits(logits, target, reduction="mean"), out
        return F.mse_loss(out, target, reduction="mean"), out

    try:
        yield compute
    finally:
        if handle is not None:
            handle.remove()


def train_steps(
    model: nn.Module, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> list[float]:
    """One optimizer step per batch with the spec's loss and optimizer; dropout disabled."""
    optimizer = make_optimizer(model.parameters(), spec.train.optimizer)
    dtype = model_dtype(spec)
    losses = []
    with mode(model, train=True, dropout=False), loss_function(model, spec) as compute:
        for x, y in batches:
            loss, _ = compute(to_torch(x, dtype), targets(spec, y, dtype))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return losses


def gradients(
    model: nn.Module, spec: CanonicalSpec, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """The loss's gradient for every trainable canonical weight (canonical layout), in train
    mode with dropout off; running statistics put back, no ``.grad`` left on the model."""
    dtype = model_dtype(spec)
    saved = runtime.get_weights(model, spec)
    try:
        with mode(model, train=True, dropout=False), loss_function(model, spec) as compute:
            model.zero_grad(set_to_none=True)
            loss, _ = compute(to_torch(x, dtype), targets(spec, y, dtype))
            loss.backward()
        return runtime.weight_gradients(model, spec)
    finally:
        model.zero_grad(set_to_none=True)
        runtime.set_weights(model, spec, saved)
