"""Joins: the ops that read several values."""

from __future__ import annotations

from normspec.ir import ops as ir
from normspec.reference._core import Array, register_join


@register_join(ir.Add)
def _add(op: ir.Add, values: list[Array]) -> Array:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total
