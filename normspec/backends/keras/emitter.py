"""Canonical IR -> Keras 3 source: one emitter per op class in :data:`EMITTERS`.

Each emitter writes the layers of one op into the builder function through its
:class:`~normspec.backends.printing.Site`. Stock Keras layers are used wherever they compute
exactly what the IR says, with every convention passed explicitly; otherwise a small custom layer
from :mod:`normspec.backends.keras.helpers` is emitted, so every valid spec has a Keras model.
The module around the builder is assembled by :mod:`normspec.backends.keras.module`.
"""

from __future__ import annotations

from normspec.backends.codegen import OMIT, call
from normspec.backends.keras.options import initializer, kernel_initializer, padding_mode, zero_pad
from normspec.backends.printing import Builder, Emitter, Printers, Site
from normspec.backends.weight_maps import weight_map
from normspec.ir import ops as ir

PRINTERS = Printers("Keras")
EMITTERS = PRINTERS.emitters
"""IR op class -> the function that emits its Keras layers."""
WEIGHT_MAPS = PRINTERS.weight_maps
"""IR op class -> where its layer holds each of its weights (see
:mod:`normspec.backends.weight_maps`); every op with weights has one."""
register = PRINTERS.register


AFFINE = weight_map(scale="gamma", shift="beta")
"""A normalization's scale and shift."""


@register(ir.Standardize, weights=weight_map(mean="mean", std="std"))
def _standardize(op: ir.Standardize, site: Site) -> None:
    cls = site.builder.helper("Standardize")
    fixed = {} if op.adapt else {"mean": op.mean, "std": op.std}
    site.layer(op.name, call(cls, channels=len(op.mean), **fixed, epsilon=op.epsilon))


@register(ir.Rescale)
def _rescale(op: ir.Rescale, site: Site) -> None:
    cls = site.builder.helper("ExactRescaling") if site.builder.float64 else "layers.Rescaling"
    site.layer(op.name, call(cls, scale=op.scale, offset=op.offset))


@register(ir.Dense, weights=weight_map(kernel="kernel", bias="bias"))
def _dense(op: ir.Dense, site: Site) -> None:
    layer = call(
        "layers.Dense",
        units=op.units,
        use_bias=op.use_bias,
        kernel_initializer=kernel_initializer(op, site),
        bias_initializer=initializer(op.bias_init, site) if op.use_bias else OMIT,
    )
    site.layer(op.name, layer)


@register(ir.Conv1D, ir.Conv2D, weights=weight_map(kernel="kernel", bias="bias"))
def _conv(op: ir.Conv1D | ir.Conv2D, site: Site) -> None:
    # Keras' Conv layers refuse strides > 1 together with dilation_rate > 1: the dilated
    # convolution then runs at stride 1 over the padded input and is subsampled after.
    subsample = any(s > 1 for s in op.strides) and any(d > 1 for d in op.dilation)
    mode = padding_mode(site, op.kernel, op.strides, op.padding, op.dilation)
    if mode is None or (subsample and mode == "same"):
        zero_pad(op, site, op.padding)
        mode = "valid"
    layer = call(
        f"layers.Conv{len(op.kernel)}D",
        filters=op.filters,
        kernel_size=op.kernel,
        strides=(1,) * len(op.kernel) if subsample else op.strides,
        padding=mode,
        data_format="channels_last",
        dilation_rate=op.dilation if any(d != 1 for d in op.dilation) else OMIT,
        groups=op.groups if op.groups != 1 else OMIT,
        use_bias=op.use_bias,
        kernel_initializer=kernel_initializer(op, site),
        bias_initializer=initializer(op.bias_init, site) if op.use_bias else OMIT,
    )
    site.layer(op.name, layer)
    if subsample:
        site.builder.comment("Keras refuses strides with dilation: stride 1, then subsample.")
        cls = site.builder.helper("Subsample")
        name = site.builder.names.derived(op.name, "subsample")
        options = {"strides": op.strides, "data_format": "channels_last"}
        site.layer(name, call(cls, **options))


def _pool(op: ir.Op, site: Site, kind: str, mode: str) -> None:
    assert isinstance(op, ir.MaxPool1D | ir.MaxPool2D | ir.AvgPool1D | ir.AvgPool2D)
    layer = call(
        f"layers.{kind}Pooling{len(op.pool)}D",
        pool_size=op.pool,
        strides=op.strides,
        padding=mode,
        data_format="channels_last",
    )
    site.layer(op.name, layer)


@register(ir.MaxPool1D, ir.MaxPool2D)
def _max_pool(op: ir.MaxPool1D | ir.MaxPool2D, site: Site) -> None:
    # TensorFlow's MaxPoolGrad gives each window's gradient to its first largest cell in
    # row-major order, as PyTorch does: normspec's convention, tested with exact ties.
    mode = padding_mode(site, op.pool, op.strides, op.padding, (1,) * len(op.pool))
    if mode is None:  # padded cells must act as -inf, which zero padding would not do
        cls = site.builder.helper("NegativeInfinityPadding")
        name = site.builder.names.derived(op.name, "pad")
        site.layer(name, call(cls, padding=op.padding))
        mode = "valid"
    _pool(op, site, "Max", mode)


@register(ir.AvgPool1D, ir.AvgPool2D)
def _avg_pool(op: ir.AvgPool1D | ir.AvgPool2D, site: Site) -> None:
    mode = padding_mode(site, op.pool, op.strides, op.padding, (1,) * len(op.pool))
    if mode == "valid":
        _pool(op, site, "Average", mode)
    elif op.count_include_pad:  # zeros padded in first are counted by a 'valid' pool
        zero_pad(op, site, op.padding)
        _pool(op, site, "Average", "valid")
    elif mode == "same":  # Keras' 'same' average pool leaves padded cells out of the divisor
        _pool(op, site, "Average", mode)
    else:
        cls = site.builder.helper("AveragePoolingExcludingPadding")
        options = {"pool_size": op.pool, "strides": op.strides, "padding": op.padding}
        site.layer(op.name, call(cls, **options))


def _global_pool(kind: str) -> Emitter:
    def emit(op: ir.Op, site: Site) -> None:
        rank = len(site.input_shape) - 1
        options = {"data_format": "channels_last", "keepdims": False}
        site.layer(op.name, call(f"layers.Global{kind}Pooling{rank}D", **options))

    return emit


register(ir.GlobalAvgPool)(_global_pool("Average"))
register(ir.GlobalMaxPool)(_global_pool("Max"))  # ties share the gradient, as with amax


@register(ir.Flatten)
def _flatten(op: ir.Flatten, site: Site) -> None:
    site.builder.comment("Channels-last flatten: (H, W, C) in row-major order, C fastest.")
    site.layer(op.name, call("layers.Flatten", data_format="channels_last"))


@register(ir.Reshape)
def _reshape(op: ir.Reshape, site: Site) -> None:
    site.layer(op.name, call("layers.Reshape", target_shape=op.shape))


@register(ir.Dropout)
def _dropout(op: ir.Dropout, site: Site) -> None:
    site.layer(op.name, call("layers.Dropout", rate=op.rate))


@register(ir.Activation)
def _activation(op: ir.Activation, site: Site) -> None:
    fn = op.function
    if fn == "elu":
        layer = call("layers.ELU", alpha=op.alpha)
    elif fn == "leaky_relu" and site.builder.float64:
        cls = site.builder.helper("ExactLeakyReLU")
        layer = call(cls, negative_slope=op.negative_slope)
    elif fn == "leaky_relu":
        layer = call("layers.LeakyReLU", negative_slope=op.negative_slope)
    elif fn == "gelu":
        approximate = op.approximate == "tanh"
        layer = call(site.builder.helper("GELU"), approximate=approximate)
    elif fn == "softmax":
        layer = call("layers.Softmax", axis=-1)
    elif fn == "relu6":
        layer = call("layers.ReLU", max_value=6.0)
    else:  # the functions without parameters, under their Keras names
        layer = call("layers.Activation", fn)
    site.layer(op.name, layer)


def _keras_momentum(momentum: float) -> float:
    """Keras weights the old moving value; the IR weights the new batch statistic."""
    return float(f"{1.0 - momentum:.15g}")


@register(
    ir.BatchNorm,
    weights=weight_map(scale="gamma", shift="beta", mean="moving_mean", var="moving_variance"),
)
def _batch_norm(op: ir.BatchNorm, site: Site) -> None:
    unbiased = op.running_var == "unbiased"
    cls = site.builder.helper("BatchNormUnbiased") if unbiased else "layers.BatchNormalization"
    layer = call(
        cls,
        axis=-1,
        momentum=_keras_momentum(op.momentum),
        epsilon=op.epsilon,
        center=op.center,
        scale=op.scale,
    )
    site.layer(op.name, layer)


@register(ir.LayerNorm, weights=AFFINE)
def _layer_norm(op: ir.LayerNorm, site: Site) -> None:
    options = {"axis": -1, "epsilon": op.epsilon, "center": op.center, "scale": op.scale}
    site.layer(op.name, call("layers.LayerNormalization", **options))


def _group_norm(op: ir.GroupNorm | ir.InstanceNorm, site: Site, groups: int) -> None:
    layer = call(
        "layers.GroupNormalization",
        groups=groups,
        axis=-1,
        epsilon=op.epsilon,
        center=op.center,
        scale=op.scale,
    )
    site.layer(op.name, layer)


@register(ir.GroupNorm, weights=AFFINE)
def _group_norm_op(op: ir.GroupNorm, site: Site) -> None:
    _group_norm(op, site, op.groups)


@register(ir.InstanceNorm, weights=AFFINE)
def _instance_norm(op: ir.InstanceNorm, site: Site) -> None:
    site.builder.comment(f"{op.name}: instance normalization, one group per channel.")
    _group_norm(op, site, site.input_shape[-1])


@register(ir.RMSNorm, weights=weight_map(scale="scale"))
def _rms_norm(op: ir.RMSNorm, site: Site) -> None:
    if op.scale:
        layer = call("layers.RMSNormalization", axis=-1, epsilon=op.epsilon)
    else:  # the stock layer always learns a scale
        cls = site.builder.helper("UnscaledRMSNormalization")
        layer = call(cls, epsilon=op.epsilon)
    site.layer(op.name, layer)


@PRINTERS.opens
def _opening(b: Builder, residual: str, has_shortcut: bool) -> None:
    kind = "its shortcut branch" if has_shortcut else "the identity"
    b.comment(f"{residual}: the body's output plus {kind}.")


@register(ir.Add)
def _add(op: ir.Add, site: Site) -> None:
    add = site.builder.names.derived(op.name, "add")
    site.layer(add, call("layers.Add"), f"[{', '.join(site.inputs)}]")


@register(ir.Multiply)
def _multiply(op: ir.Multiply, site: Site) -> None:
    """A per-channel gate ``(C,)`` is reshaped to ``(1, ..., C)`` first, which ``Multiply``
    broadcasts over the spatial axes."""
    b = site.builder
    factors = []
    for variable, shape in zip(site.inputs, site.input_shapes, strict=True):
        if len(shape) < len(op.shape):
            name = b.names.derived(op.name, "gate")
            target = (*(1,) * (len(op.shape) - 1), shape[-1])
            layer = call("layers.Reshape", target)
            if b.dialect.constructor is not None:
                layer = b.dialect.constructor(b, name, layer)
            b.forward_lines += b.statement(f"{name} = ", layer, f"({variable})")
            variable = name
        factors.append(variable)
    site.layer(op.name, call("layers.Multiply"), f"[{', '.join(factors)}]")


@register(ir.Concat)
def _concat(op: ir.Concat, site: Site) -> None:
    site.layer(op.name, call("layers.Concatenate", axis=-1), f"[{', '.join(site.inputs)}]")
