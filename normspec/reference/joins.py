"""Joins: the ops that read several values."""

from __future__ import annotations

import numpy as np

from normspec.ir import ops as ir
from normspec.reference._core import Array, register_join


@register_join(ir.Add)
def _add(op: ir.Add, values: list[Array]) -> Array:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


@register_join(ir.Multiply)
def _multiply(op: ir.Multiply, values: list[Array]) -> Array:
    """A gate ``(N, C)`` multiplies every spatial position of its channel."""
    rank = len(op.shape) + 1
    product = None
    for value in values:
        if value.ndim < rank:
            value = value.reshape(value.shape[0], *(1,) * (rank - value.ndim), value.shape[-1])
        product = value if product is None else product * value
    assert product is not None
    return np.broadcast_to(product, (product.shape[0], *op.shape)).copy()


@register_join(ir.Concat)
def _concat(op: ir.Concat, values: list[Array]) -> Array:
    return np.concatenate(values, axis=-1)
