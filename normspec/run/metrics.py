"""Loss and accuracy in numpy, from eval-mode outputs, the same for every backend."""

from __future__ import annotations

import numpy as np

from normspec.heads import output_kind, targets
from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import LOGIT_HEADS, logits_head

__all__ = [
    "LOGIT_HEADS",
    "accuracy",
    "chance_accuracy",
    "logits_head",
    "loss",
    "output_kind",
    "targets",
]

_TINY = 1e-12


def loss(spec: CanonicalSpec, outputs: np.ndarray, y: np.ndarray) -> float:
    out = outputs.astype(np.float64)
    kind, t = output_kind(spec), targets(spec, y)
    if spec.train.loss == "mean_squared_error":
        return float(np.mean((out - t) ** 2))
    if spec.train.loss == "binary_cross_entropy":
        if kind == "probability":
            p = np.clip(out, _TINY, 1 - _TINY)
            return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
        return float(np.mean(np.maximum(out, 0) - out * t + np.log1p(np.exp(-np.abs(out)))))
    if kind == "probabilities":
        logp = np.log(np.clip(out, _TINY, None))
    else:
        shifted = out - out.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(t)), t]))


def accuracy(spec: CanonicalSpec, outputs: np.ndarray, y: np.ndarray) -> float:
    t = targets(spec, y)
    if spec.train.loss == "cross_entropy":
        return float(np.mean(outputs.argmax(axis=-1) == t))
    if spec.train.loss == "binary_cross_entropy":
        threshold = 0.5 if output_kind(spec) == "probability" else 0.0
        return float(np.mean((outputs > threshold) == (t > 0.5)))
    return float("nan")


def chance_accuracy(spec: CanonicalSpec, y: np.ndarray) -> float:
    """Accuracy of always answering the most frequent class."""
    if spec.train.loss == "mean_squared_error":
        return float("nan")
    _, counts = np.unique(np.asarray(y).reshape(-1) > 0.5 if y.ndim > 1 else y, return_counts=True)
    return float(counts.max() / counts.sum())
