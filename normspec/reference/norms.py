"""Normalizations and input normalization. Every variance is two-pass: mean((x - mean)^2)."""

from __future__ import annotations

import numpy as np

from normspec.ir import ops as ir
from normspec.reference._core import Array, Context, register

Axes = tuple[int, ...]


def moments(x: Array, axes: Axes) -> tuple[Array, Array]:
    """Mean and biased two-pass variance over ``axes``, kept for broadcasting."""
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    return mean, var


def normalize(x: Array, axes: Axes, epsilon: float) -> Array:
    mean, var = moments(x, axes)
    return (x - mean) / np.sqrt(var + epsilon)


def _spatial_axes(x: Array) -> Axes:
    return tuple(range(1, x.ndim - 1))


@register(ir.BatchNorm)
def batch_norm(op: ir.BatchNorm, x: Array, ctx: Context) -> Array:
    """Train: normalize with the batch statistics and update the running ones; eval: use these."""
    axes = tuple(range(x.ndim - 1))
    if ctx.train:
        mean, var = moments(x, axes)
        mean, var = mean.reshape(-1), var.reshape(-1)
        _update_running(op, ctx, mean, var, count=x.size // x.shape[-1])
    else:
        mean, var = ctx.weight(op, "mean"), ctx.weight(op, "var")
    y = (x - mean) / np.sqrt(var + op.epsilon)
    return ctx.affine(op, y, scale=op.scale, center=op.center)


def _update_running(op: ir.BatchNorm, ctx: Context, mean: Array, var: Array, count: int) -> None:
    """``running = (1 - m) * running + m * batch``; the stored variance per ``running_var``."""
    if op.running_var == "unbiased":
        if count < 2:
            raise ValueError(
                f"batch norm '{op.name}': an unbiased running variance needs more than one value "
                f"per channel in training, got {count}"
            )
        var = var * count / (count - 1)
    m = op.momentum
    ctx.weights[f"{op.name}.mean"] = (1.0 - m) * ctx.weight(op, "mean") + m * mean
    ctx.weights[f"{op.name}.var"] = (1.0 - m) * ctx.weight(op, "var") + m * var


@register(ir.LayerNorm)
def layer_norm(op: ir.LayerNorm, x: Array, ctx: Context) -> Array:
    y = normalize(x, (-1,), op.epsilon)
    return ctx.affine(op, y, scale=op.scale, center=op.center)


@register(ir.GroupNorm)
def group_norm(op: ir.GroupNorm, x: Array, ctx: Context) -> Array:
    """Contiguous channel groups: ``(..., C) -> (..., groups, C / groups)``, statistics per sample
    over the spatial axes and the channels of a group."""
    grouped = x.reshape(*x.shape[:-1], op.groups, x.shape[-1] // op.groups)
    axes = (*_spatial_axes(x), -1)
    y = normalize(grouped, axes, op.epsilon).reshape(x.shape)
    return ctx.affine(op, y, scale=op.scale, center=op.center)


@register(ir.InstanceNorm)
def instance_norm(op: ir.InstanceNorm, x: Array, ctx: Context) -> Array:
    y = normalize(x, _spatial_axes(x), op.epsilon)
    return ctx.affine(op, y, scale=op.scale, center=op.center)


@register(ir.RMSNorm)
def rms_norm(op: ir.RMSNorm, x: Array, ctx: Context) -> Array:
    y = x / np.sqrt(np.square(x).mean(axis=-1, keepdims=True) + op.epsilon)
    return ctx.affine(op, y, scale=op.scale, center=False)


@register(ir.Standardize)
def standardize(op: ir.Standardize, x: Array, ctx: Context) -> Array:
    """``(x - mean) / std`` with the stored (fixed or fitted) per-channel statistics."""
    return (x - ctx.weight(op, "mean")) / ctx.weight(op, "std")


@register(ir.Rescale)
def rescale(op: ir.Rescale, x: Array, ctx: Context) -> Array:
    return x * op.scale + op.offset
