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

from normspec.backends.torch.runtime import mode, model_dtype, to_torch
from normspec.ir.graph import SGD, Adam, CanonicalSpec
from normspec.run import metrics

LossFn = Callable[[torch.Tensor, np.ndarray], torch.Tensor]
"""``(x, labels) -> loss``: runs the model on ``x``."""


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


def _pre_activation(spec: CanonicalSpec) -> str | None:
    """The name of the final softmax/sigmoid whose input the loss reads, if any."""
    head = metrics.logits_head(spec)
    return head.name if head is not None else None


@contextlib.contextmanager
def loss_function(model: nn.Module, spec: CanonicalSpec) -> Iterator[LossFn]:
    """The spec's loss on ``model``; the logits of a final softmax or sigmoid are its input,
    caught by a forward hook, so the loss is computed in the stable log-sum-exp form."""
    captured: dict[str, torch.Tensor] = {}
    name = _pre_activation(spec)
    handle = None
    if name is not None:
        handle = model.get_submodule(name).register_forward_hook(
            lambda module, args, out: captured.__setitem__("logits", args[0])
        )
    dtype = model_dtype(spec)

    def compute(x: torch.Tensor, y: np.ndarray) -> torch.Tensor:
        out = model(x)
        logits = captured.pop("logits") if name is not None else out
        if spec.train.loss == "cross_entropy":
            labels = torch.from_numpy(metrics.targets(spec, y))
            return F.cross_entropy(logits, labels, reduction="mean")
        target = to_torch(metrics.targets(spec, y), dtype)
        if spec.train.loss == "binary_cross_entropy":
            return F.binary_cross_entropy_with_logits(logits, target, reduction="mean")
        return F.mse_loss(out, target, reduction="mean")

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
            loss = compute(to_torch(x, dtype), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    return losses
