"""Joins: ops that read two or more values. ``add`` sums values of one shape (the join a
``residual`` lowers to), ``multiply`` multiplies them (a per-channel gate of shape ``(C,)``, as
squeeze-excite computes, is broadcast over the spatial axes of the others), ``concat`` joins
them along the channel axis (the last: shapes are channels-last)."""

from __future__ import annotations

from typing import Literal

from normspec.ir.ops.base import Cost, Op, Shape, register_op, size


def _text(shapes: tuple[Shape, ...]) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


class Join(Op):
    """Base of the joins: :meth:`combine` is the output shape for the shapes read."""

    @classmethod
    def combine(cls, shapes: tuple[Shape, ...]) -> Shape:
        """The output shape for values of ``shapes``; ``ValueError`` when they do not fit."""
        raise NotImplementedError

    def cost(self, input_shape: Shape) -> Cost:
        return Cost(0, size(self.shape))


@register_op
class Add(Join):
    """The element-wise sum of the values it reads, all of one shape (its own)."""

    op: Literal["add"] = "add"

    @classmethod
    def combine(cls, shapes: tuple[Shape, ...]) -> Shape:
        if len(set(shapes)) != 1:
            raise ValueError(f"an add reads values of one shape, not {_text(shapes)}")
        return shapes[0]


@register_op
class Multiply(Join):
    """The element-wise product of the values it reads: values of one shape, and any number of
    per-channel gates ``(C,)``, each broadcast over the spatial axes of the others."""

    op: Literal["multiply"] = "multiply"

    @classmethod
    def combine(cls, shapes: tuple[Shape, ...]) -> Shape:
        full = {s for s in shapes if len(s) > 1} or set(shapes)
        channels = {s[-1] for s in shapes}
        if len(full) != 1 or len(channels) != 1:
            raise ValueError(
                "a multiply reads values of one shape and per-channel gates (C,) of their "
                f"channels, not {_text(shapes)}"
            )
        return next(iter(full))


@register_op
class Concat(Join):
    """The values it reads side by side along the channel axis (the last), in order."""

    op: Literal["concat"] = "concat"

    @classmethod
    def combine(cls, shapes: tuple[Shape, ...]) -> Shape:
        if len({s[:-1] for s in shapes}) != 1:
            raise ValueError(
                f"a concat joins values whose shapes differ only in channels, not {_text(shapes)}"
            )
        return (*shapes[0][:-1], sum(s[-1] for s in shapes))

    def cost(self, input_shape: Shape) -> Cost:
        return Cost()
