"""What the loss reads from a spec's output: the output's kind, the targets' form, and the
final softmax or sigmoid whose input every backend's loss takes as logits."""

from __future__ import annotations

import numpy as np

from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import LOGIT_HEADS, applied_head, logits_head, returns_logits

__all__ = ["LOGIT_HEADS", "applied_head", "logits_head", "output_kind", "returns_logits", "targets"]


def output_kind(spec: CanonicalSpec) -> str:
    """What the model returns: ``probabilities`` (after a final softmax), ``probability``
    (sigmoid) or ``raw`` (logits, as with ``output: {logits: true}``, or a regression)."""
    if returns_logits(spec):
        return "raw"
    last = spec.nodes[-1].op
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
