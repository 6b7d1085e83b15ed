"""Convolutions and pools (1-D and 2-D, channels-last) by sliding windows, plus global pools."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from normspec.ir import ops as ir
from normspec.reference._core import Array, Context, register


def windows(
    x: Array,
    window: tuple[int, ...],
    strides: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    *,
    dilation: tuple[int, ...] | None = None,
    fill: float = 0.0,
) -> Array:
    """Every window of ``x`` ``(N, *spatial, C)``, padded with ``fill``: ``(N, *out, C, *window)``.

    A dilated window spans ``(k - 1) * d + 1`` cells; it is cut whole, then every ``d``-th cell is
    kept, and every ``s``-th window position, so ``out = (padded - span) // s + 1`` per axis.
    """
    dilation = dilation or (1,) * len(window)
    axes = tuple(range(1, len(window) + 1))
    padded = np.pad(x, ((0, 0), *padding, (0, 0)), constant_values=fill)
    span = tuple((k - 1) * d + 1 for k, d in zip(window, dilation, strict=True))
    view = sliding_window_view(padded, span, axis=axes)
    index = (
        slice(None),
        *(slice(None, None, s) for s in strides),
        slice(None),
        *(slice(None, None, d) for d in dilation),
    )
    return view[index]


def _last_axes(count: int) -> tuple[int, ...]:
    return tuple(range(-count, 0))


@register(ir.Conv1D, ir.Conv2D)
def conv(op: ir.Conv1D | ir.Conv2D, x: Array, ctx: Context) -> Array:
    """Grouped convolution as one matrix product per group over the unfolded windows.

    Kernel layout ``(*kernel, C / groups, filters)``; with ``c = C / groups`` and
    ``f = filters / groups``, group ``g`` reads input channels ``[g * c, (g + 1) * c)`` and
    writes filters ``[g * f, (g + 1) * f)``.
    """
    rank = len(op.kernel)
    cols = windows(x, op.kernel, op.strides, op.padding, dilation=op.dilation)
    cols = np.moveaxis(cols, rank + 1, -1)  # (N, *out, *kernel, C): same order as the kernel
    lead = cols.shape[: rank + 1]
    kernel = ctx.weight(op, "kernel")
    per_group, out_per_group = kernel.shape[-2], op.filters // op.groups
    taps = math.prod(op.kernel) * per_group
    parts = []
    for g in range(op.groups):
        patch = cols[..., g * per_group : (g + 1) * per_group].reshape(-1, taps)
        w = kernel[..., g * out_per_group : (g + 1) * out_per_group].reshape(taps, out_per_group)
        parts.append(patch @ w)
    y = np.concatenate(parts, axis=-1).reshape(*lead, op.filters)
    if op.use_bias:
        y = y + ctx.weight(op, "bias")
    return y


@register(ir.MaxPool1D, ir.MaxPool2D)
def max_pool(op: ir.MaxPool1D | ir.MaxPool2D, x: Array, ctx: Context) -> Array:
    # Padding with -inf: a padded cell never wins, even when every real value is negative.
    cells = windows(x, op.pool, op.strides, op.padding, fill=-np.inf)
    return cells.max(axis=_last_axes(len(op.pool)))


@register(ir.AvgPool1D, ir.AvgPool2D)
def avg_pool(op: ir.AvgPool1D | ir.AvgPool2D, x: Array, ctx: Context) -> Array:
    axes = _last_axes(len(op.pool))
    total = windows(x, op.pool, op.strides, op.padding).sum(axis=axes)
    if op.count_include_pad:
        return total / math.prod(op.pool)
    # Divide by the number of real cells under each window: the pooled sum of a mask of ones.
    mask = np.ones((1, *x.shape[1:-1], 1))
    count = windows(mask, op.pool, op.strides, op.padding).sum(axis=axes)
    return total / count


def _spatial_axes(x: Array) -> tuple[int, ...]:
    return tuple(range(1, x.ndim - 1))


@register(ir.GlobalAvgPool)
def global_avg_pool(op: ir.GlobalAvgPool, x: Array, ctx: Context) -> Array:
    return x.mean(axis=_spatial_axes(x))


@register(ir.GlobalMaxPool)
def global_max_pool(op: ir.GlobalMaxPool, x: Array, ctx: Context) -> Array:
    return x.max(axis=_spatial_axes(x))
