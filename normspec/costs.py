"""Compute cost of one forward pass of one sample: multiply-accumulates (MACs) and FLOPs per op.

Conventions (inference, batch of one, bias additions not counted):

* dense: ``MACs = output elements x input features`` (every output reads every input feature
  of its position once); conv: ``MACs = output elements x (input channels / groups) x kernel
  cells``: padded cells count like any other, strides and dilation act through the output
  size. ``FLOPs = 2 x MACs`` for both (one multiply and one add per MAC);
* every other op does no multiply-accumulate (``MACs = 0``). Its FLOPs follow one simple rule:
  one FLOP per input element for the ops that compute on their input (activations,
  normalizations, input standardization and rescaling, pools and global pools), one per output
  element for an add or a multiply (a residual's add included), and 0 for the ops that only
  move or keep data (flatten, reshape, concat, and dropout, the identity at inference);
* a residual's row counts its add plus every op of its body and shortcut; totals count each op
  once (the children, plus the residual's own add).
"""

from __future__ import annotations

from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import GraphNode
from normspec.ir.ops import Cost, size

__all__ = ["FLOPS_RULE", "Cost", "node_cost", "size", "spec_cost"]

FLOPS_RULE = (
    "FLOPs = 2 x MACs for dense and conv; 1 per input element for activations, "
    "normalizations, input scaling and pools; 1 per output element for an add or a multiply; "
    "0 for flatten, reshape, concat and dropout"
)
"""The convention above in one line, for table footers."""


def spec_cost(spec: CanonicalSpec) -> Cost:
    """Total cost of ``spec``: every op once."""
    total = Cost()
    for node in spec.nodes:
        total += node_cost(node)
    return total


def node_cost(node: GraphNode) -> Cost:
    """The cost of one node of the graph view (an ``add``: one FLOP per output element)."""
    return node.op.cost(node.input_shape)
