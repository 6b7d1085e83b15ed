"""Normalization emitters: stock ``torch.nn`` layers where their options fit the IR exactly, a
helper module otherwise (biased running variance, a scale without a shift or the reverse, layer
and RMS norm over the channels of a channels-first tensor)."""

from __future__ import annotations

from normspec.backends.codegen import Call, call
from normspec.backends.printing import Site
from normspec.backends.torch.dialect import DTYPE
from normspec.backends.torch.partials import batch_norm_key, partials
from normspec.backends.torch.registry import register, spatial_dims
from normspec.backends.weight_maps import weight_map
from normspec.ir import ops as ir

AFFINE = weight_map(scale="weight", shift="bias")
"""A normalization's scale and shift."""


@register(
    ir.BatchNorm,
    weights=weight_map(scale="weight", shift="bias", mean="running_mean", var="running_var"),
)
def _batch_norm(op: ir.BatchNorm, site: Site) -> None:
    channels = site.input_shape[-1]
    options = {"eps": op.epsilon, "momentum": op.momentum}
    key = batch_norm_key(op, site.input_shape)
    shared = partials(site.builder.spec).get(key) if key is not None else None
    if shared is not None:
        module = shared.use(channels, dtype=DTYPE)
    elif key is not None:
        module = call(key[0], channels, **dict(key[1]), dtype=DTYPE)
    else:
        unbiased = op.running_var == "unbiased"
        affine = {"scale": op.scale, "center": op.center, "unbiased": unbiased}
        module = call(site.helper("BatchNorm"), channels, **options, **affine, dtype=DTYPE)
    site.layer(op.name, module)


@register(ir.LayerNorm, weights=AFFINE)
def _layer_norm(op: ir.LayerNorm, site: Site) -> None:
    channels = site.input_shape[-1]
    if spatial_dims(site.input_shape) == 0 and (op.scale or not op.center):
        module = call(
            "nn.LayerNorm",
            channels,
            eps=op.epsilon,
            elementwise_affine=op.scale,
            bias=op.center,
            dtype=DTYPE,
        )
    else:
        cls = site.helper("ChannelLayerNorm")
        module = call(cls, channels, eps=op.epsilon, scale=op.scale, center=op.center, dtype=DTYPE)
    site.layer(op.name, module)


def _group_norm(site: Site, groups: int, op: ir.GroupNorm | ir.InstanceNorm) -> Call:
    channels = site.input_shape[-1]
    if op.center == op.scale:
        return call("nn.GroupNorm", groups, channels, eps=op.epsilon, affine=op.scale, dtype=DTYPE)
    affine = {"scale": op.scale, "center": op.center}
    return call(site.helper("GroupNorm"), groups, channels, eps=op.epsilon, **affine, dtype=DTYPE)


def _contiguous(site: Site) -> str:
    """``GroupNorm`` on a tensor in the channels-last memory layout (``channels_last``, or
    ``permute(0, 3, 1, 2)`` of NHWC data) takes another CPU kernel, whose one-pass variance
    loses digits on large means; a contiguous input keeps the two-pass one."""
    return f"{site.src}.contiguous()"


@register(ir.GroupNorm, weights=AFFINE)
def _group_norm_op(op: ir.GroupNorm, site: Site) -> None:
    site.layer(op.name, _group_norm(site, op.groups, op), _contiguous(site))


@register(ir.InstanceNorm, weights=AFFINE)
def _instance_norm(op: ir.InstanceNorm, site: Site) -> None:
    channels, dims = site.input_shape[-1], spatial_dims(site.input_shape)
    if dims and op.center == op.scale:
        module = call(
            f"nn.InstanceNorm{dims}d",
            channels,
            eps=op.epsilon,
            affine=op.scale,
            track_running_stats=False,
            dtype=DTYPE,
        )
    else:  # instance norm is group norm with one channel per group
        site.layer(op.name, _group_norm(site, channels, op), _contiguous(site))
        return
    site.layer(op.name, module)


@register(ir.RMSNorm, weights=weight_map(scale="weight"))
def _rms_norm(op: ir.RMSNorm, site: Site) -> None:
    channels = site.input_shape[-1]
    if spatial_dims(site.input_shape) == 0:
        module = call(
            "nn.RMSNorm", channels, eps=op.epsilon, elementwise_affine=op.scale, dtype=DTYPE
        )
    else:
        cls = site.helper("ChannelRMSNorm")
        module = call(cls, channels, eps=op.epsilon, scale=op.scale, dtype=DTYPE)
    site.layer(op.name, module)
