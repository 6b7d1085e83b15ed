"""Dense, shape changes and dropout (a residual is its branches and an ``add``: see
:func:`normspec.reference._core.run_node`)."""

from __future__ import annotations

from normspec.ir import ops as ir
from normspec.reference._core import Array, Context, register


@register(ir.Dense)
def dense(op: ir.Dense, x: Array, ctx: Context) -> Array:
    y = x @ ctx.weight(op, "kernel")
    if op.use_bias:
        y = y + ctx.weight(op, "bias")
    return y


@register(ir.Flatten)
def flatten(op: ir.Flatten, x: Array, ctx: Context) -> Array:
    # C-order reshape of the channels-last tensor: the channel index varies fastest.
    return x.reshape(x.shape[0], -1)


@register(ir.Reshape)
def reshape(op: ir.Reshape, x: Array, ctx: Context) -> Array:
    return x.reshape(x.shape[0], *op.shape)


@register(ir.Dropout)
def dropout(op: ir.Dropout, x: Array, ctx: Context) -> Array:
    """Identity in both modes: the reference is the oracle of parity checks, which run with
    dropout disabled so that outputs are comparable."""
    return x
