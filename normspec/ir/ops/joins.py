"""Joins: ops that read more than one value. ``add`` sums values of one shape (the join a
``residual`` lowers to)."""

from __future__ import annotations

from typing import Literal

from normspec.ir.ops.base import Cost, Op, Shape, register_op, size


@register_op
class Add(Op):
    """The element-wise sum of the values it reads, all of one shape (its own)."""

    op: Literal["add"] = "add"

    def cost(self, input_shape: Shape) -> Cost:
        return Cost(0, size(self.shape))
