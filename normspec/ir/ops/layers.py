"""Layers with a kernel: dense and convolutions."""

from __future__ import annotations

import math
from typing import Literal

from normspec.ir.constraints import Size
from normspec.ir.ops.base import (
    Cost,
    Initializer,
    Op,
    Pair,
    Shape,
    WeightSpec,
    _channels,
    axes_text,
    pairs_text,
    register_op,
    size,
)
from normspec.ir.roles import BIAS, KERNEL
from normspec.ir.shapes import window_output


@register_op
class Dense(Op):
    op: Literal["dense"] = "dense"
    units: Size
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        out = [self._weight(KERNEL, (c, self.units), self.kernel_init, c)]
        if self.use_bias:
            out.append(self._weight(BIAS, (self.units,), self.bias_init, c))
        return out

    def infer_shape(self, input_shape: Shape) -> Shape:
        return (self.units,)

    def cost(self, input_shape: Shape) -> Cost:
        macs = size(self.shape) * _channels(input_shape)
        return Cost(macs, 2 * macs)

    def detail(self) -> str:
        return f"{self.units} units" + ("" if self.use_bias else ", no bias")


class _Conv(Op):
    filters: Size
    kernel: Shape
    strides: Shape
    padding: tuple[Pair, ...]
    dilation: Shape
    groups: Size
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        per_group = _channels(input_shape) // self.groups
        fan_in = per_group * math.prod(self.kernel)
        shape = (*self.kernel, per_group, self.filters)
        out = [self._weight(KERNEL, shape, self.kernel_init, fan_in)]
        if self.use_bias:
            out.append(self._weight(BIAS, (self.filters,), self.bias_init, fan_in))
        return out

    def infer_shape(self, input_shape: Shape) -> Shape:
        spatial = zip(
            input_shape[:-1], self.kernel, self.strides, self.padding, self.dilation, strict=True
        )
        return (*(window_output(*axis) for axis in spatial), self.filters)

    def cost(self, input_shape: Shape) -> Cost:
        macs = size(self.shape) * (_channels(input_shape) // self.groups) * size(self.kernel)
        return Cost(macs, 2 * macs)

    def detail(self) -> str:
        text = (
            f"{self.filters} filters {axes_text(self.kernel)}/{axes_text(self.strides)} "
            f"pad {pairs_text(self.padding)}"
        )
        if any(d != 1 for d in self.dilation):
            text += f" dilation {axes_text(self.dilation)}"
        if self.groups != 1:
            text += f" groups {self.groups}"
        return text + ("" if self.use_bias else ", no bias")


@register_op
class Conv1D(_Conv):
    op: Literal["conv1d"] = "conv1d"


@register_op
class Conv2D(_Conv):
    op: Literal["conv2d"] = "conv2d"
