"""Normalizations: batch, layer, group, instance and RMS norm."""

from __future__ import annotations

from typing import Literal

from normspec.ir.constraints import Epsilon, Momentum, Size
from normspec.ir.ops.base import Constant, Op, Shape, WeightSpec, _channels, register_op
from normspec.ir.roles import MEAN, VAR


@register_op
class BatchNorm(Op):
    """Batch normalization over every axis but the channel axis."""

    op: Literal["batch_norm"] = "batch_norm"
    epsilon: Epsilon
    momentum: Momentum
    center: bool
    scale: bool
    running_var: Literal["unbiased", "biased"]

    def detail(self) -> str:
        return f"eps={self.epsilon:g} momentum={self.momentum:g} var={self.running_var}"

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        return [
            *self._affine(input_shape, scale=self.scale, center=self.center),
            self._weight(MEAN, (c,), Constant(value=0.0), c),
            self._weight(VAR, (c,), Constant(value=1.0), c),
        ]


@register_op
class LayerNorm(Op):
    """Normalizes each position over its channels (last axis); per-channel scale and shift."""

    op: Literal["layer_norm"] = "layer_norm"
    epsilon: Epsilon
    center: bool
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class GroupNorm(Op):
    """Splits channels into ``groups`` contiguous groups, normalizes each over space and group."""

    op: Literal["group_norm"] = "group_norm"
    groups: Size
    epsilon: Epsilon
    center: bool
    scale: bool

    def detail(self) -> str:
        return f"groups={self.groups} eps={self.epsilon:g}"

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class InstanceNorm(Op):
    """Normalizes each channel of each sample over its spatial axes (group norm, groups = C)."""

    op: Literal["instance_norm"] = "instance_norm"
    epsilon: Epsilon
    center: bool
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class RMSNorm(Op):
    """``x / sqrt(mean(x^2 over channels) + epsilon) * scale``; no centering."""

    op: Literal["rms_norm"] = "rms_norm"
    epsilon: Epsilon
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=False)


NORM_OPS = (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm)
