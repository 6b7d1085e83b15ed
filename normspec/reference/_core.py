"""The op registry of the reference interpreter and the loop that runs a sequence of ops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from normspec.ir import ops as ir
from normspec.ir.nodes import GraphNode
from normspec.ir.registry import Registry

Array = npt.NDArray[np.float64]
K = TypeVar("K", bound=Callable[..., Array])

KERNELS: Registry[type[ir.Op], Callable[[Any, Array, Context], Array]] = Registry(
    "reference kernel"
)
"""One function per IR op class reading one value: ``(op, x, context) -> y`` on float64
batches."""

JOINS: Registry[type[ir.Op], Callable[[Any, list[Array]], Array]] = Registry("reference join")
"""One function per IR op class reading several values (a join): ``(op, values) -> y``."""


@dataclass
class Context:
    """What a kernel may read besides its input: the weights and the mode.

    ``weights`` are float64 copies; batch norm writes its updated running statistics into them
    in train mode, which is how :func:`normspec.reference.forward` returns the new state.
    """

    weights: dict[str, Array]
    train: bool

    def weight(self, op: ir.Op, role: str) -> Array:
        return self.weights[f"{op.name}.{role}"]

    def affine(self, op: ir.Op, y: Array, *, scale: bool, center: bool) -> Array:
        """``y * scale + shift`` with whichever of the two per-channel vectors the op has."""
        if scale:
            y = y * self.weight(op, "scale")
        if center:
            y = y + self.weight(op, "shift")
        return y


def register(*classes: type[ir.Op]) -> Callable[[K], K]:
    """Register a kernel ``(op, x, context) -> y`` for each of ``classes``.

    A second kernel for the same class is an error, so no kernel silently replaces another.
    """

    return KERNELS.decorator(*classes)


def register_join(*classes: type[ir.Op]) -> Callable[[K], K]:
    """Register a join kernel ``(op, values) -> y`` for each of ``classes``."""

    return JOINS.decorator(*classes)


def run_op(op: ir.Op, x: Array, ctx: Context) -> Array:
    """Apply one op and check its output against the shape the IR inferred for it."""
    kernel = KERNELS.get(type(op))
    if kernel is None:
        raise NotImplementedError(f"no reference kernel for op '{op.op}' ({type(op).__name__})")
    y = kernel(op, x, ctx)
    if y.shape[1:] != op.shape:
        raise ValueError(f"op '{op.name}' produced shape {y.shape[1:]} but the IR says {op.shape}")
    return y


def run_node(node: GraphNode, inputs: list[Array], ctx: Context) -> Array:
    """Apply one node of the graph view to the values it reads."""
    join = JOINS.get(type(node.op))
    if join is None:
        return run_op(node.op, inputs[0], ctx)
    y = join(node.op, inputs)
    if y.shape[1:] != node.shape:
        raise ValueError(
            f"{node.op.op} '{node.name}' gave shape {y.shape[1:]}; the IR says {node.shape}"
        )
    return y
