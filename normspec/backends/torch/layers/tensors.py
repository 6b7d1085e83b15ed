"""Tensor layout helpers and shape ops: per-channel broadcasting, channels-last flatten
and reshape, global pools.

The definitions are copied verbatim into the PyTorch modules normspec emits (see
:mod:`normspec.backends.torch.helpers`); channels-first tensors ``(N, C, *spatial)`` in
and out.
"""

from __future__ import annotations

import torch
from torch import nn


def per_channel(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``values`` (C,) viewed to broadcast over ``x`` (N, C, *spatial)."""
    shape = [-1] + [1] * (x.dim() - 2)
    return values.view(shape)


class Flatten(nn.Module):
    """Flattens (N, C, *spatial) in channels-last order (*spatial, C), the order of the
    canonical weights of the layer that follows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x.movedim(1, -1), 1)


class Reshape(nn.Module):
    """Reshapes the channels-last view of ``x`` to ``(N, *shape)``, then returns it
    channels-first: the target shape is in channels-last order, as in the spec."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.movedim(1, -1).reshape(x.shape[0], *self.shape).movedim(-1, 1)


class GlobalAvgPool(nn.Module):
    """Mean over every spatial axis: (N, C, *spatial) -> (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=2)


class GlobalMaxPool(nn.Module):
    """Maximum over every spatial axis: (N, C, *spatial) -> (N, C). ``amax`` splits the
    gradient evenly among tied maxima (``max(dim)`` would give all of it to one)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).amax(dim=2)
