"""Canonical IR -> PyTorch source: one emitter per op class in :data:`EMITTERS` (normalizations
are in :mod:`normspec.backends.torch.normalization`).

Each emitter adds the submodule of one op to ``__init__`` (named after the op, so forward hooks
see every op) and its call to ``forward``, through a :class:`~normspec.backends.printing.Site`.
Stock ``torch.nn`` modules are used wherever they compute exactly what the IR says, with every
convention passed explicitly; otherwise a small module from
:mod:`normspec.backends.torch.helpers` is emitted. The model is channels-first, as PyTorch users
expect, so channel-wise ops act on dim 1. The module around the class is assembled by
:mod:`normspec.backends.torch.module`.
"""

from __future__ import annotations

from typing import Any

from normspec.backends.codegen import Call, Raw, call
from normspec.backends.named_init import named_initializer
from normspec.backends.printing import Builder, Site

# Importing normalization registers its emitters, so EMITTERS is complete once this is imported.
from normspec.backends.torch import normalization  # noqa: F401
from normspec.backends.torch.dialect import DTYPE
from normspec.backends.torch.partials import compact, conv_key, partials, symmetric
from normspec.backends.torch.registry import EMITTERS, PRINTERS, WEIGHT_MAPS, register
from normspec.backends.weight_maps import Slot, weight_map
from normspec.errors import BackendError
from normspec.ir import ops as ir
from normspec.ir.ops import Pair

__all__ = ["EMITTERS", "WEIGHT_MAPS", "register"]


def _torch_pad(padding: tuple[Pair, ...]) -> tuple[int, ...]:
    """``F.pad`` order: the last axis first, ``(before, after)`` each."""
    return tuple(size for pair in reversed(padding) for size in pair)


# --- input normalization -----------------------------------------------------------------------


@register(ir.Standardize, weights=weight_map(mean="mean", std="std"))
def _standardize(op: ir.Standardize, site: Site) -> None:
    fixed = {} if op.adapt else {"mean": op.mean, "std": op.std}
    module = call(site.helper("Standardize"), len(op.mean), **fixed, epsilon=op.epsilon,
                  dtype=DTYPE)  # fmt: skip
    site.layer(op.name, module)


@register(ir.Rescale)
def _rescale(op: ir.Rescale, site: Site) -> None:
    site.layer(op.name, call(site.helper("Rescale"), scale=op.scale, offset=op.offset))


# --- dense and convolution ---------------------------------------------------------------------


def _initializer(init: Any, tensor: Raw) -> Call:
    if isinstance(init, ir.Uniform):
        return call("nn.init.uniform_", tensor, a=init.low, b=init.high)
    if isinstance(init, ir.Normal):
        return call("nn.init.normal_", tensor, mean=init.mean, std=init.std)
    if isinstance(init, ir.TruncatedNormal):
        return call(
            "nn.init.trunc_normal_", tensor, mean=init.mean, std=init.std, a=init.low, b=init.high
        )
    return call("nn.init.constant_", tensor, val=init.value)


def _initialize(site: Site, tensor: str, init: Any) -> None:
    """The spec's initializer, with its numbers, in ``reset_parameters``."""
    site.builder.reset_lines += site.builder.statement("", _initializer(init, Raw(tensor)))


def _init_weight_and_bias(site: Site, op: ir.Dense | ir.Conv1D | ir.Conv2D) -> None:
    named = named_initializer(op, site.input_shape[-1])
    if named is None:
        _initialize(site, f"self.{op.name}.weight", op.kernel_init)
    else:
        draw = call(site.helper(f"{named}_"), Raw(f"self.{op.name}.weight"))
        site.builder.reset_lines += site.builder.statement("", draw)
    if op.use_bias:
        _initialize(site, f"self.{op.name}.bias", op.bias_init)


@register(ir.Dense, weights=weight_map(kernel=Slot("weight", "channels_first"), bias="bias"))
def _dense(op: ir.Dense, site: Site) -> None:
    in_features = site.input_shape[-1]
    site.layer(op.name, call("nn.Linear", in_features, op.units, bias=op.use_bias, dtype=DTYPE))
    _init_weight_and_bias(site, op)


@register(
    ir.Conv1D, ir.Conv2D, weights=weight_map(kernel=Slot("weight", "channels_first"), bias="bias")
)
def _conv(op: ir.Conv1D | ir.Conv2D, site: Site) -> None:
    dims = len(op.kernel)
    kwargs: dict[str, Any] = {"kernel_size": compact(op.kernel), "stride": compact(op.strides)}
    if symmetric(op.padding):
        padding = compact(tuple(before for before, _ in op.padding))
        shared = partials(site.builder.spec).get(conv_key(op, padding))
        if shared is not None:
            channels = (site.input_shape[-1], op.filters)
            stride = compact(op.strides)
            site.layer(op.name, shared.use(*channels, stride=stride, dtype=DTYPE))
            _init_weight_and_bias(site, op)
            return
        cls = f"nn.Conv{dims}d"
        kwargs["padding"] = padding
    else:
        cls = site.helper(f"PaddedConv{dims}d")
        kwargs["pad"] = _torch_pad(op.padding)
    if set(op.dilation) != {1}:
        kwargs["dilation"] = compact(op.dilation)
    if op.groups != 1:
        kwargs["groups"] = op.groups
    module = call(cls, site.input_shape[-1], op.filters, **kwargs, bias=op.use_bias, dtype=DTYPE)
    site.layer(op.name, module)
    _init_weight_and_bias(site, op)


# --- pooling -----------------------------------------------------------------------------------


def _stock_pool_padding(op: ir.MaxPool1D | ir.MaxPool2D | ir.AvgPool1D | ir.AvgPool2D) -> bool:
    """Whether torch's own pool padding fits: symmetric and at most half the window."""
    return symmetric(op.padding) and all(
        before <= size // 2 for (before, _), size in zip(op.padding, op.pool, strict=True)
    )


def _pool(op: Any, site: Site, kind: str, **options: Any) -> None:
    dims = len(op.pool)
    kwargs: dict[str, Any] = {"kernel_size": compact(op.pool), "stride": compact(op.strides)}
    if _stock_pool_padding(op):
        cls = f"nn.{kind}{dims}d"
        kwargs["padding"] = compact(tuple(before for before, _ in op.padding))
    else:
        cls = site.helper(f"Padded{kind}{dims}d")
        kwargs["pad"] = _torch_pad(op.padding)
    site.layer(op.name, call(cls, **kwargs, **options))


@register(ir.MaxPool1D, ir.MaxPool2D)
def _max_pool(op: ir.MaxPool1D | ir.MaxPool2D, site: Site) -> None:
    # Each window's gradient goes to its first largest cell in row-major order: PyTorch's
    # rule, normspec's convention (the Keras and Flax models' stock pools follow it; tested).
    _pool(op, site, "MaxPool")


@register(ir.AvgPool1D, ir.AvgPool2D)
def _avg_pool(op: ir.AvgPool1D | ir.AvgPool2D, site: Site) -> None:
    _pool(op, site, "AvgPool", count_include_pad=op.count_include_pad)


@register(ir.GlobalAvgPool)
def _global_avg_pool(op: ir.GlobalAvgPool, site: Site) -> None:
    site.layer(op.name, call(site.helper("GlobalAvgPool")))


@register(ir.GlobalMaxPool)
def _global_max_pool(op: ir.GlobalMaxPool, site: Site) -> None:
    site.layer(op.name, call(site.helper("GlobalMaxPool")))


# --- shape ops, dropout, activations -----------------------------------------------------------


@register(ir.Flatten)
def _flatten(op: ir.Flatten, site: Site) -> None:
    site.layer(op.name, call(site.helper("Flatten")))


@register(ir.Reshape)
def _reshape(op: ir.Reshape, site: Site) -> None:
    site.layer(op.name, call(site.helper("Reshape"), op.shape))


@register(ir.Dropout)
def _dropout(op: ir.Dropout, site: Site) -> None:
    site.layer(op.name, call("nn.Dropout", p=op.rate))


_SIMPLE_ACTIVATIONS = {
    "relu": "nn.ReLU",
    "relu6": "nn.ReLU6",
    "hard_swish": "nn.Hardswish",
    "selu": "nn.SELU",
    "silu": "nn.SiLU",
    "tanh": "nn.Tanh",
    "sigmoid": "nn.Sigmoid",
}


def _activation_module(op: ir.Activation) -> Call:
    if op.function in _SIMPLE_ACTIVATIONS:
        return call(_SIMPLE_ACTIVATIONS[op.function])
    if op.function == "elu":
        return call("nn.ELU", alpha=op.alpha)
    if op.function == "leaky_relu":
        return call("nn.LeakyReLU", negative_slope=op.negative_slope)
    if op.function == "gelu":
        return call("nn.GELU", approximate=op.approximate)
    if op.function == "softmax":
        return call("nn.Softmax", dim=1)  # dim 1: the channels
    raise BackendError(f"torch backend has no activation '{op.function}' (op '{op.name}')")


@register(ir.Activation)
def _activation(op: ir.Activation, site: Site) -> None:
    site.layer(op.name, _activation_module(op))


# --- residual ----------------------------------------------------------------------------------


@PRINTERS.opens
def _opening(b: Builder, residual: str, has_shortcut: bool) -> None:
    if has_shortcut:
        b.comment(f"{residual}: body(x) + shortcut(x)", init=f"{residual}: body, then shortcut")
    else:
        b.comment(
            f"{residual}: body(x) + x", init=f"{residual}: body (the shortcut is the identity)"
        )


@register(ir.Add)
def _add(op: ir.Add, site: Site) -> None:
    """A residual's join: its branches ran in their own variables (``out`` and ``shortcut``,
    numbered when nested)."""
    site.result(Raw(" + ".join(site.inputs)))


@register(ir.Multiply)
def _multiply(op: ir.Multiply, site: Site) -> None:
    """A per-channel gate ``(N, C)`` is broadcast over the spatial axes: ``g[:, :, None]``
    per axis (the model is channels-first)."""
    spatial = ", None" * (len(op.shape) - 1)
    factors = [
        v if len(shape) == len(op.shape) else f"{v}[:, :{spatial}]"
        for v, shape in zip(site.inputs, site.input_shapes, strict=True)
    ]
    site.result(Raw(" * ".join(factors)))


@register(ir.Concat)
def _concat(op: ir.Concat, site: Site) -> None:
    """Along the channel axis: 1, in PyTorch's channels-first layout."""
    site.result(call("torch.cat", Raw(f"[{', '.join(site.inputs)}]"), dim=1))
