"""Canonical IR -> Flax NNX source: one emitter per op class in :data:`EMITTERS`.

Each emitter writes one op into the model class through its
:class:`~normspec.backends.printing.Site`: layers with state become attributes built in
``__init__`` and called in ``__call__``; stateless ops are function calls in ``__call__``. Every
convention a Flax default would otherwise decide is passed explicitly (dtypes, padding, pooling
strides, epsilons, momenta, the two-pass variance, initializers); where no stock layer computes
what the IR says, a small definition of :mod:`normspec.backends.flax.helpers` is emitted. The
module around the class is assembled by :mod:`normspec.backends.flax.module`.
"""

from __future__ import annotations

from typing import Any

from normspec.backends.codegen import OMIT, Call, Raw, call, float_literal
from normspec.backends.flax.dialect import DTYPE
from normspec.backends.named_init import named_initializer
from normspec.backends.printing import Builder, Emitter, Printers, Site
from normspec.backends.weight_maps import weight_map
from normspec.ir import ops as ir
from normspec.ir.ops import Pair

PRINTERS = Printers("Flax")
EMITTERS = PRINTERS.emitters
"""IR op class -> the function that emits it."""
WEIGHT_MAPS = PRINTERS.weight_maps
"""IR op class -> where its layer holds each of its weights (see
:mod:`normspec.backends.weight_maps`); every op with weights has one."""
register = PRINTERS.register

PRECISION = Raw("precision")
"""The model's ``precision`` argument, which every Linear and Conv gets."""
RNGS = Raw("rngs")


AFFINE = weight_map(scale="scale", shift="bias")
"""A normalization's scale and shift."""


DTYPES = {"dtype": DTYPE, "param_dtype": DTYPE}
"""Every layer with parameters computes and stores in the spec's dtype (Flax's default
``param_dtype`` is float32 whatever the input)."""


# --- initializers ------------------------------------------------------------------------------


def _initializer(init: Any, site: Site) -> Call:
    if isinstance(init, ir.Uniform):
        return call(site.builder.helper("uniform"), init.low, init.high)
    if isinstance(init, ir.Normal):
        return call(site.builder.helper("normal"), init.mean, init.std)
    if isinstance(init, ir.TruncatedNormal):
        name = site.builder.helper("truncated_normal")
        return call(name, init.mean, init.std, init.low, init.high)
    return call(site.builder.helper("constant"), float(init.value))


def _padding(padding: tuple[Pair, ...]) -> Any:
    """'VALID' when nothing is padded, else the explicit (before, after) pairs (Flax's own
    default would be 'SAME')."""
    return "VALID" if not any(p for pair in padding for p in pair) else padding


# --- ops ---------------------------------------------------------------------------------------


@register(ir.Standardize, weights=weight_map(mean="mean", std="std"))
def _standardize(op: ir.Standardize, site: Site) -> None:
    cls = site.builder.helper("Standardize")
    fixed = {} if op.adapt else {"mean": op.mean, "std": op.std}
    site.layer(op.name, call(cls, len(op.mean), **fixed, epsilon=op.epsilon, dtype=DTYPE))


@register(ir.Rescale)
def _rescale(op: ir.Rescale, site: Site) -> None:
    text = f"{site.src} * {float_literal(op.scale)}"
    if op.offset:
        sign = "-" if op.offset < 0 else "+"
        text += f" {sign} {float_literal(abs(op.offset))}"
    site.result(Raw(text))


def _weighted(op: ir.Dense | ir.Conv1D | ir.Conv2D, site: Site) -> dict[str, Any]:
    """The options a Linear and a Conv share: bias, initializers, dtypes, the model's precision."""
    named = named_initializer(op, site.input_shape[-1])
    kernel_init = _initializer(op.kernel_init, site) if named is None else call(site.helper(named))
    return {
        "use_bias": op.use_bias,
        "kernel_init": kernel_init,
        "bias_init": _initializer(op.bias_init, site) if op.use_bias else OMIT,
        **DTYPES,
        "precision": PRECISION,
        "rngs": RNGS,
    }


@register(ir.Dense, weights=weight_map(kernel="kernel", bias="bias"))
def _dense(op: ir.Dense, site: Site) -> None:
    layer = call(
        "nnx.Linear",
        site.input_shape[-1],
        op.units,
        **_weighted(op, site),
    )
    site.layer(op.name, layer)


@register(ir.Conv1D, ir.Conv2D, weights=weight_map(kernel="kernel", bias="bias"))
def _conv(op: ir.Conv1D | ir.Conv2D, site: Site) -> None:
    layer = call(
        "nnx.Conv",
        site.input_shape[-1],
        op.filters,
        kernel_size=op.kernel,
        strides=op.strides,
        padding=_padding(op.padding),
        kernel_dilation=op.dilation if any(d != 1 for d in op.dilation) else OMIT,
        feature_group_count=op.groups if op.groups != 1 else OMIT,
        **_weighted(op, site),
    )
    site.layer(op.name, layer)


@register(ir.MaxPool1D, ir.MaxPool2D)
def _max_pool(op: ir.MaxPool1D | ir.MaxPool2D, site: Site) -> None:
    # Flax pads a max pool with -inf, so padded cells never win. Under jax.grad, XLA's
    # select-and-scatter gives each window's gradient to its first largest cell in row-major
    # order, as PyTorch does: normspec's convention, tested with exact ties.
    site.builder.notes.add("max_pool")
    options = {"window_shape": op.pool, "strides": op.strides, "padding": _padding(op.padding)}
    site.result(call("nnx.max_pool", site.x, **options))


@register(ir.AvgPool1D, ir.AvgPool2D)
def _avg_pool(op: ir.AvgPool1D | ir.AvgPool2D, site: Site) -> None:
    site.builder.notes.add("avg_pool")
    value = call(
        "nnx.avg_pool",
        site.x,
        window_shape=op.pool,
        strides=op.strides,
        padding=_padding(op.padding),
        count_include_pad=op.count_include_pad,
    )
    if op.count_include_pad:
        site.result(value)
        return
    # Flax divides by a pool over ones of JAX's default float type (float64 in 64-bit mode).
    site.builder.comment("The divisor counts real cells only; keep the model's dtype.")
    site.result(value, ".astype(DTYPE)")


def _global_pool(func: str) -> Emitter:
    def emit(op: ir.Op, site: Site) -> None:
        axes = tuple(range(1, len(site.input_shape)))
        site.result(call(func, site.x, axis=axes[0] if len(axes) == 1 else axes))

    return emit


@register(ir.GlobalMaxPool)
def _global_max_pool(op: ir.GlobalMaxPool, site: Site) -> None:
    # jnp.max splits the gradient evenly among tied maxima, as torch.amax does.
    site.builder.notes.add("global_max_pool")
    _global_pool("jnp.max")(op, site)


register(ir.GlobalAvgPool)(_global_pool("jnp.mean"))


@register(ir.Flatten)
def _flatten(op: ir.Flatten, site: Site) -> None:
    site.builder.notes.add("flatten")
    site.result(call(f"{site.src}.reshape", Raw(f"{site.src}.shape[0]"), -1))


@register(ir.Reshape)
def _reshape(op: ir.Reshape, site: Site) -> None:
    site.result(call(f"{site.src}.reshape", Raw(f"{site.src}.shape[0]"), *op.shape))


@register(ir.Dropout)
def _dropout(op: ir.Dropout, site: Site) -> None:
    site.layer(op.name, call("nnx.Dropout", op.rate, deterministic=False, rngs=RNGS))


@register(ir.Activation)
def _activation(op: ir.Activation, site: Site) -> None:
    fn, x = op.function, site.x
    if fn == "elu":
        value = call("nnx.elu", x, alpha=op.alpha)
    elif fn == "leaky_relu":
        value = call("nnx.leaky_relu", x, negative_slope=op.negative_slope)
    elif fn == "gelu":  # jax.nn.gelu defaults to the tanh approximation
        value = call("nnx.gelu", x, approximate=op.approximate == "tanh")
    elif fn == "softmax":
        value = call("nnx.softmax", x, axis=-1)
    else:  # the functions without parameters, under their jax.nn names
        value = call(f"nnx.{fn}", x)
    site.result(value)


def _flax_momentum(momentum: float) -> float:
    """Flax weights the old running value; the IR weights the new batch statistic."""
    return float(f"{1.0 - momentum:.15g}")


@register(ir.BatchNorm, weights=weight_map(scale="scale", shift="bias", mean="mean", var="var"))
def _batch_norm(op: ir.BatchNorm, site: Site) -> None:
    site.builder.notes.add("batch_norm")
    # Not the stock nnx.BatchNorm, which writes its running statistics in place.
    cls = site.builder.helper("UnbiasedBatchNorm" if op.running_var == "unbiased" else "BatchNorm")
    layer = call(
        cls,
        site.input_shape[-1],
        use_running_average=False,
        axis=-1,
        momentum=_flax_momentum(op.momentum),
        epsilon=op.epsilon,
        use_bias=op.center,
        use_scale=op.scale,
        use_fast_variance=False,
        **DTYPES,
        rngs=RNGS,
    )
    site.layer(op.name, layer)


def _norm(cls: str, op: Any, site: Site, **options: Any) -> None:
    layer = call(
        cls,
        site.input_shape[-1],
        **options,
        epsilon=op.epsilon,
        use_bias=op.center,
        use_scale=op.scale,
        use_fast_variance=False,
        **DTYPES,
        rngs=RNGS,
    )
    site.layer(op.name, layer)


@register(ir.LayerNorm, weights=AFFINE)
def _layer_norm(op: ir.LayerNorm, site: Site) -> None:
    _norm("nnx.LayerNorm", op, site, reduction_axes=-1, feature_axes=-1)


@register(ir.GroupNorm, weights=AFFINE)
def _group_norm(op: ir.GroupNorm, site: Site) -> None:
    _norm("nnx.GroupNorm", op, site, num_groups=op.groups)


@register(ir.InstanceNorm, weights=AFFINE)
def _instance_norm(op: ir.InstanceNorm, site: Site) -> None:
    _norm("nnx.InstanceNorm", op, site, feature_axes=-1)


@register(ir.RMSNorm, weights=weight_map(scale="scale"))
def _rms_norm(op: ir.RMSNorm, site: Site) -> None:
    layer = call(
        "nnx.RMSNorm",
        site.input_shape[-1],
        epsilon=op.epsilon,
        use_scale=op.scale,
        reduction_axes=-1,
        feature_axes=-1,
        **DTYPES,
        rngs=RNGS,
    )
    site.layer(op.name, layer)


@PRINTERS.opens
def _opening(b: Builder, residual: str, has_shortcut: bool) -> None:
    b.comment(f"{b.names.short[residual]}: body + {'shortcut' if has_shortcut else 'identity'}")


@register(ir.Add)
def _add(op: ir.Add, site: Site) -> None:
    site.result(Raw(" + ".join(site.inputs)))


@register(ir.Multiply)
def _multiply(op: ir.Multiply, site: Site) -> None:
    """A per-channel gate ``(N, C)`` is broadcast over the spatial axes: ``g[:, None, :]``."""
    spatial = "None, " * (len(op.shape) - 1)
    factors = [
        v if len(shape) == len(op.shape) else f"{v}[:, {spatial}:]"
        for v, shape in zip(site.inputs, site.input_shapes, strict=True)
    ]
    site.result(Raw(" * ".join(factors)))


@register(ir.Concat)
def _concat(op: ir.Concat, site: Site) -> None:
    site.result(call("jnp.concatenate", Raw(f"[{', '.join(site.inputs)}]"), axis=-1))
