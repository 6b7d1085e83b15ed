"""Validation with the batch statistics: the model as training sees it, beside the model as
evaluation sees it (running statistics). When the two disagree, the running statistics lag the
weights; that is a measured outcome (:mod:`normspec.run.outcomes`), not a failure to train."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from normspec.ir import ops as ir
from normspec.ir.constraints import MIN_BATCH
from normspec.ir.graph import CanonicalSpec
from normspec.run import metrics
from normspec.run.data import Dataset


def uses_batch_statistics(spec: CanonicalSpec) -> bool:
    """Whether train and eval mode compute differently (a batch norm; dropout is off in both
    when validating)."""
    return any(isinstance(node.op, ir.BatchNorm) for node in spec.nodes)


def chunks(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``size``; a last one shorter than a batch may be (batch statistics
    need two samples) joins the one before."""
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < MIN_BATCH:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, [*starts[1:], n], strict=True)]


@contextmanager
def state_kept(backend: Any, model: Any, spec: CanonicalSpec) -> Iterator[None]:
    """Whatever runs inside (train-mode passes update running statistics), the model's
    canonical weights and statistics are put back afterwards."""
    saved = backend.get_weights(model, spec)
    try:
        yield
    finally:
        backend.set_weights(model, spec, saved)


def train_mode_outputs(
    backend: Any, model: Any, spec: CanonicalSpec, x: np.ndarray, batch_size: int
) -> np.ndarray:
    """The model's outputs on ``x`` normalized with the statistics of each batch of
    ``batch_size`` (as in training; dropout off). The running statistics the forward passes
    update are put back, so validating changes nothing."""
    with state_kept(backend, model, spec):
        parts = [
            backend.forward(model, spec, x[part], train=True, nodes=False)["output"]
            for part in chunks(len(x), batch_size)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, *spec.output_shape))


def train_mode_metrics(
    backend: Any, model: Any, spec: CanonicalSpec, data: Dataset, batch_size: int
) -> dict[str, float]:
    """``val_train_mode_loss`` and ``val_train_mode_accuracy`` on the validation split."""
    x = data.x_val.astype(spec.input.dtype)
    out = train_mode_outputs(backend, model, spec, x, batch_size)
    return {
        "val_train_mode_loss": metrics.loss(spec, out, data.y_val),
        "val_train_mode_accuracy": metrics.accuracy(spec, out, data.y_val),
    }
