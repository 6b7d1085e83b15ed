"""Compute cost of one forward pass of one sample: multiply-accumulates (MACs) and FLOPs per op.

Conventions (inference, batch of one, bias additions not counted):

* dense: ``MACs = output elements x input features`` (every output reads every input feature
  of its position once); conv: ``MACs = output elements x (input channels / groups) x kernel
  cells``: padded cells count like any other, strides and dilation act through the output
  size. ``FLOPs = 2 x MACs`` for both (one multiply and one add per MAC);
* every other op does no multiply-accumulate (``MACs = 0``). Its FLOPs follow one simple rule:
  one FLOP per input element for the ops that compute on their input (activations,
  normalizations, input standardization and rescaling, pools and global pools), one per output
  element for a residual's add, and 0 for the ops that only move or keep data (flatten,
  reshape, and dropout, the identity at inference);
* a residual's row counts its add plus every op of its body and shortcut; totals count each op
  once (the children, plus the residual's own add).
"""

from __future__ import annotations

from dataclasses import dataclass

from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec, walk_ops
from normspec.ir.ops import Shape

FLOPS_RULE = (
    "FLOPs = 2 x MACs for dense and conv; 1 per input element for activations, "
    "normalizations, input scaling and pools; 1 per output element for a residual's add; "
    "0 for flatten, reshape and dropout"
)
"""The convention above in one line, for table footers."""

_DATA_ONLY = (ir.Flatten, ir.Reshape, ir.Dropout)


@dataclass(frozen=True)
class Cost:
    macs: int = 0
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.macs + other.macs, self.flops + other.flops)


def own_cost(op: ir.Op, input_shape: Shape) -> Cost:
    """The cost of ``op`` alone: for a residual, only its add (not its children)."""
    if isinstance(op, ir.Dense):
        macs = size(op.shape) * _channels(input_shape)
        return Cost(macs, 2 * macs)
    if isinstance(op, ir.Conv1D | ir.Conv2D):
        macs = size(op.shape) * (_channels(input_shape) // op.groups) * size(op.kernel)
        return Cost(macs, 2 * macs)
    if isinstance(op, ir.Residual):
        return Cost(0, size(op.shape))
    if isinstance(op, _DATA_ONLY):
        return Cost()
    return Cost(0, size(input_shape))


def op_cost(op: ir.Op, input_shape: Shape) -> Cost:
    """The cost of ``op`` with, for a residual, every op of its body and shortcut."""
    total = own_cost(op, input_shape)
    if isinstance(op, ir.Residual):
        for branch in (op.body, op.shortcut):  # both start from the residual's input
            for site in walk_ops(branch, input_shape):
                total += own_cost(site.op, site.input_shape)
    return total


def spec_cost(spec: CanonicalSpec) -> Cost:
    """Total cost of ``spec``: every op once."""
    total = Cost()
    for site in spec.walk():
        total += own_cost(site.op, site.input_shape)
    return total


def size(shape: tuple[int, ...]) -> int:
    """Number of elements of a tensor of ``shape``."""
    n = 1
    for d in shape:
        n *= d
    return n


def _channels(shape: Shape) -> int:
    return shape[-1] if shape else 1
