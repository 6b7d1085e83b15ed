"""The spec's named initializers for weights drawn from their fan-in and fan-out, with
the arithmetic of :func:`normspec.ir.initializers.resolve` written out, so they draw
from exactly the distributions the canonical spec records. Fans, normspec's convention:
a ``Linear`` weight ``(out, in)`` has fan-in ``in`` and fan-out ``out``; a convolution
weight ``(out, in, *kernel)`` (one group) has fan-in ``in * kernel size`` and fan-out
``out * kernel size``. The normal ones are Keras/JAX ``variance_scaling``: N(0, s)
truncated at ±2s, with s divided by 0.87962566103423978, the std of a unit normal cut at
±2, so the variance is the target one. The definitions are copied verbatim into the
PyTorch modules normspec emits (see :mod:`normspec.backends.torch.helpers`)."""

from __future__ import annotations

import math

import torch
from torch import nn


def he_normal_(weight: torch.Tensor) -> None:
    """He normal: N(0, s) cut at ±2s, s = sqrt(2 / fan_in) / 0.87962566103423978 (the
    std of a unit normal cut at ±2); fan_in = weight[0].numel() (in channels x kernel
    size)."""
    std = math.sqrt(2 / weight[0].numel()) / 0.87962566103423978
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std)


def lecun_normal_(weight: torch.Tensor) -> None:
    """LeCun normal: N(0, s) cut at ±2s, s = sqrt(1 / fan_in) / 0.87962566103423978 (the
    std of a unit normal cut at ±2); fan_in = weight[0].numel() (in channels x kernel
    size)."""
    std = math.sqrt(1 / weight[0].numel()) / 0.87962566103423978
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std)


def glorot_normal_(weight: torch.Tensor) -> None:
    """Glorot normal: N(0, s) cut at ±2s, s = sqrt(1 / fan_avg) / 0.87962566103423978
    (the std of a unit normal cut at ±2); fan_avg = the mean of fan-in (in channels x
    kernel size) and fan-out (out channels x kernel size)."""
    fan_avg = (weight[0].numel() + weight.shape[0] * weight[0, 0].numel()) / 2
    std = math.sqrt(1 / fan_avg) / 0.87962566103423978
    nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2 * std, b=2 * std)


def he_uniform_(weight: torch.Tensor) -> None:
    """He uniform: U(±sqrt(6 / fan_in)); fan_in = weight[0].numel() (in channels x
    kernel size)."""
    bound = math.sqrt(3 * (2 / weight[0].numel()))
    nn.init.uniform_(weight, a=-bound, b=bound)


def lecun_uniform_(weight: torch.Tensor) -> None:
    """LeCun uniform: U(±sqrt(3 / fan_in)); fan_in = weight[0].numel() (in channels x
    kernel size)."""
    bound = math.sqrt(3 * (1 / weight[0].numel()))
    nn.init.uniform_(weight, a=-bound, b=bound)


def glorot_uniform_(weight: torch.Tensor) -> None:
    """Glorot uniform: U(±sqrt(6 / (fan_in + fan_out))); fan-in is in channels x kernel
    size, fan-out out channels x kernel size."""
    fan_avg = (weight[0].numel() + weight.shape[0] * weight[0, 0].numel()) / 2
    bound = math.sqrt(3 * (1 / fan_avg))
    nn.init.uniform_(weight, a=-bound, b=bound)
