"""What the loss reads from a spec's output: the output's kind, the targets' form, and the
final softmax or sigmoid whose input every backend's loss takes as logits."""

from __future__ import annotations

import numpy as np

from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec


def output_kind(spec: CanonicalSpec) -> str:
    """``probabilities`` (softmax), ``probability`` (sigmoid) or ``raw`` (logits/regression)."""
    last = spec.layers[-1]
    if isinstance(last, ir.Activation) and last.function == "softmax":
        return "probabilities"
    if isinstance(last, ir.Activation) and last.function == "sigmoid":
        return "probability"
    return "raw"


def targets(spec: CanonicalSpec, y: np.ndarray) -> np.ndarray:
    """Labels in the form the loss wants: class ids, or floats shaped like the output."""
    if spec.train.loss == "cross_entropy":
        return y.astype(np.int64).reshape(-1)
    return y.astype(np.float64).reshape(len(y), *spec.output_shape)


LOGIT_HEADS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
"""The activation whose input a loss reads as logits, when a spec ends in it."""


def logits_head(spec: CanonicalSpec) -> ir.Activation | None:
    """The final softmax (cross-entropy) or sigmoid (binary cross-entropy) of ``spec``, whose
    input every backend's loss reads, stably, as logits; None when the output itself is what
    the loss reads."""
    last = spec.layers[-1] if spec.layers else None
    wanted = LOGIT_HEADS.get(spec.train.loss)
    if isinstance(last, ir.Activation) and last.function == wanted:
        return last
    return None
