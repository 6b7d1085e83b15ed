"""Pooling: windowed max and average, and global pooling over every spatial axis."""

from __future__ import annotations

from typing import Literal

from normspec.ir.ops.base import Op, Pair, Shape, axes_text, pairs_text, register_op
from normspec.ir.shapes import window_output


class _Pool(Op):
    pool: Shape
    strides: Shape
    padding: tuple[Pair, ...]

    def infer_shape(self, input_shape: Shape) -> Shape:
        spatial = zip(input_shape[:-1], self.pool, self.strides, self.padding, strict=True)
        return (*(window_output(*axis) for axis in spatial), input_shape[-1])

    def detail(self) -> str:
        text = f"{axes_text(self.pool)}/{axes_text(self.strides)}"
        return text + (f" pad {pairs_text(self.padding)}" if any(map(any, self.padding)) else "")


@register_op
class MaxPool1D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool1d"] = "max_pool1d"


@register_op
class MaxPool2D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool2d"] = "max_pool2d"


@register_op
class AvgPool1D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool1d"] = "avg_pool1d"
    count_include_pad: bool


@register_op
class AvgPool2D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool2d"] = "avg_pool2d"
    count_include_pad: bool


@register_op
class GlobalAvgPool(Op):
    """Mean over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_avg_pool"] = "global_avg_pool"

    def infer_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)


@register_op
class GlobalMaxPool(Op):
    """Max over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_max_pool"] = "global_max_pool"

    def infer_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)
