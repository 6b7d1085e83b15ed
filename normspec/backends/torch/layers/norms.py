"""Normalizations ``torch.nn`` has no exact layer for.

The definitions are copied verbatim into the PyTorch modules normspec emits (see
:mod:`normspec.backends.torch.helpers`); channels-first tensors ``(N, C, *spatial)`` in
and out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from normspec.backends.torch.layers.tensors import per_channel


class BatchNorm(nn.Module):
    """Batch normalization over every axis but the channels, for what
    ``nn.BatchNorm2d`` cannot do: update the running variance with the biased estimator
    (divide by n, as Keras and Flax; ``nn.BatchNorm2d`` divides by n - 1), or have a
    scale without a shift or the reverse.

    Train mode normalizes with the batch mean and biased variance and updates
    ``running = (1 - momentum) * running + momentum * batch``; eval mode uses the
    running statistics.
    """

    def __init__(
        self,
        num_features: int,
        *,
        eps: float,
        momentum: float,
        scale: bool,
        center: bool,
        unbiased: bool,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.unbiased = unbiased
        ones = torch.ones(num_features, dtype=dtype)
        self.weight = nn.Parameter(ones.clone()) if scale else None
        self.bias = nn.Parameter(torch.zeros_like(ones)) if center else None
        self.register_buffer("running_mean", torch.zeros_like(ones))
        self.register_buffer("running_var", ones)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            dims = [0] + [d for d in range(2, x.dim())]  # every axis but channels
            m = self.momentum
            with torch.no_grad():
                var, mean = torch.var_mean(x, dim=dims, correction=int(self.unbiased))
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var, alpha=m)
            return F.batch_norm(
                x, None, None, self.weight, self.bias, training=True, eps=self.eps
            )
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=False,
            eps=self.eps,
        )


class ChannelLayerNorm(nn.Module):
    """Layer normalization over the channels (dim 1) of each position, with an optional
    per-channel scale and shift: ``nn.LayerNorm`` normalizes the trailing axes instead,
    and its shift cannot exist without its scale."""

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float,
        scale: bool,
        center: bool,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.eps = eps
        ones = torch.ones(num_channels, dtype=dtype)
        self.weight = nn.Parameter(ones) if scale else None
        self.bias = nn.Parameter(torch.zeros_like(ones)) if center else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            x = x * per_channel(self.weight, x)
        if self.bias is not None:
            x = x + per_channel(self.bias, x)
        return x


class GroupNorm(nn.Module):
    """``nn.GroupNorm`` with the scale and the shift each optional (the affine of
    ``nn.GroupNorm`` is all or nothing)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        *,
        eps: float,
        scale: bool,
        center: bool,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.eps = eps
        ones = torch.ones(num_channels, dtype=dtype)
        self.weight = nn.Parameter(ones) if scale else None
        self.bias = nn.Parameter(torch.zeros_like(ones)) if center else None
        self.num_groups = num_groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class ChannelRMSNorm(nn.Module):
    """RMS normalization ``x / sqrt(mean(x^2) + eps)`` over the channels (dim 1) of each
    position, with an optional per-channel scale (``nn.RMSNorm`` normalizes trailing
    axes)."""

    def __init__(
        self, num_channels: int, *, eps: float, scale: bool, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.eps = eps
        ones = torch.ones(num_channels, dtype=dtype)
        self.weight = nn.Parameter(ones) if scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)
        if self.weight is not None:
            x = x * per_channel(self.weight, x)
        return x
