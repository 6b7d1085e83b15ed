"""One lowering function per layer kind: user layer -> primitive IR ops (the LOWER table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from normspec.errors import Path
from normspec.ir import ops as ir
from normspec.spec import models as m
from normspec.spec import ops_builder as build
from normspec.spec.branches import Branches, Lowered
from normspec.spec.lowering_table import SHORT_NORM, lowers
from normspec.spec.norms import ResolvedNorm, resolve_norm
from normspec.spec.ops_builder import ShapeError

if TYPE_CHECKING:
    from normspec.spec.canonicalize import Canonicalizer

Shape = tuple[int, ...]
_ORDERS = {
    "before_activation": ["layer", "norm", "act", "dropout"],
    "after_activation": ["layer", "act", "norm", "dropout"],
    "none": ["layer", "act", "dropout"],
}
_TOKEN = {"dense": "layer", "conv": "layer", "activation": "act"}


def _order(
    c: Canonicalizer,
    layer: m.Block,
    norm: ResolvedNorm,
    act: m.ActivationSpec | None,
    where: Path,
) -> list[str]:
    present = {
        "layer": True,
        "norm": norm.position != "none",
        "act": act is not None,
        "dropout": layer.dropout is not None,
    }
    if layer.order is None:
        return [t for t in _ORDERS[norm.position] if present[t]]
    order = [_TOKEN.get(t, t) for t in layer.order]
    path = (*where, "order")
    if len(set(order)) != len(order):
        c.fail(path, "each step may appear once")
    if "layer" not in order:
        c.fail(path, "order must contain the layer itself ('layer', 'dense' or 'conv')")
    for token, needed in present.items():
        if needed and token not in order:
            c.fail(path, f"order leaves out '{token}', which this layer has")
        if not needed and token in order and token != "norm":
            c.fail(path, f"order has '{token}' but the layer sets none")
    if "norm" in order and norm.kind == "none":
        c.fail(path, "order has 'norm' but the layer's norm is none")
    return [t for t in order if present.get(t) or (t == "norm" and norm.kind != "none")]


def _block(
    c: Canonicalizer, layer: m.Block, name: str, shape: Shape, where: Path, main: Any
) -> list[ir.Op]:
    """Shared by dense and conv: the main op plus norm/act/dropout in the resolved order."""
    norm = c.norm(layer.norm, where)
    act = c.activation(layer.activation, where)
    order = _order(c, layer, norm, act, where)
    after = order[order.index("layer") + 1] if "layer" in order[:-1] else None
    use_bias = layer.use_bias
    if use_bias == "auto":
        use_bias = not (after == "norm" and norm.kind == "batch")
    k_init = layer.kernel_init or c.defaults.kernel_init
    b_init = layer.bias_init or c.defaults.bias_init
    ops: list[ir.Op] = []
    for token in order:
        if token == "layer":
            op = main(shape, use_bias, k_init, b_init)
        elif token == "norm":
            op = _block_norm(c.claim(f"{name}_{SHORT_NORM[norm.kind]}", where), shape, norm)
        elif token == "act":
            assert act is not None
            op = build.activation(c.claim(f"{name}_{act.function}", where), shape, act)
        else:
            assert layer.dropout is not None
            op = ir.Dropout(name=c.claim(f"{name}_dropout", where), shape=shape, rate=layer.dropout)
        ops.append(op)
        shape = op.shape
    return ops


def _block_norm(name: str, shape: Shape, norm: ResolvedNorm) -> ir.Op:
    """The norm of a dense/conv block; its problems point at the block's ``norm``, not at a
    field of the layer itself (a conv has its own ``groups``)."""
    try:
        return build.norm(name, shape, norm)
    except ShapeError as exc:
        raise ShapeError(str(exc), "norm", recovered=exc.recovered) from None


@lowers("dense")
def _dense(c: Canonicalizer, layer: m.DenseLayer, name: str, shape: Shape, where: Path) -> list:
    def main(shape: Shape, use_bias: bool, k: Any, b: Any) -> ir.Op:
        return build.dense(name, shape, layer.units, use_bias, k, b)

    return _block(c, layer, name, shape, where, main)


@lowers("conv1d", "conv2d")
def _conv(c: Canonicalizer, layer: m.ConvLayer, name: str, shape: Shape, where: Path) -> list:
    kind = where[-1]
    rank = 1 if kind == "conv1d" else 2
    kernel = build.tuple_of(layer.kernel, rank, "kernel")
    strides = build.tuple_of(layer.strides, rank, "strides")
    dilation = build.tuple_of(layer.dilation, rank, "dilation")

    def main(shape: Shape, use_bias: bool, k: Any, b: Any) -> ir.Op:
        return build.conv(
            str(kind),
            name,
            shape,
            filters=layer.filters,
            kernel=kernel,
            strides=strides,
            padding=layer.padding,
            dilation=dilation,
            groups=layer.groups,
            use_bias=use_bias,
            k_init=k,
            b_init=b,
        )

    return _block(c, layer, name, shape, where, main)


@lowers("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d")
def _pool(c: Canonicalizer, layer: m.MaxPoolLayer, name: str, shape: Shape, where: Path) -> list:
    kind = str(where[-1])
    rank = 1 if kind.endswith("1d") else 2
    window = build.tuple_of(layer.pool, rank, "pool")
    strides = build.tuple_of(layer.strides, rank, "strides") if layer.strides else window
    include = layer.count_include_pad if isinstance(layer, m.AvgPoolLayer) else None
    return [
        build.pool(
            kind,
            name,
            shape,
            window=window,
            strides=strides,
            padding=layer.padding,
            count_include_pad=include,
        )
    ]


@lowers("global_avg_pool", "global_max_pool")
def _global(c: Canonicalizer, layer: m.PlainLayer, name: str, shape: Shape, where: Path) -> list:
    if len(shape) < 2:
        raise ShapeError(f"{where[-1]} needs spatial axes, got {build.fmt(shape)}")
    cls = ir.GlobalAvgPool if where[-1] == "global_avg_pool" else ir.GlobalMaxPool
    return [cls(name=name, shape=(shape[-1],))]


@lowers("flatten")
def _flatten(c: Canonicalizer, layer: m.PlainLayer, name: str, shape: Shape, where: Path) -> list:
    size = 1
    for d in shape:
        size *= d
    return [ir.Flatten(name=name, shape=(size,))]


@lowers("reshape")
def _reshape(c: Canonicalizer, layer: m.ReshapeLayer, name: str, shape: Shape, where: Path) -> list:
    return [build.reshape(name, shape, layer.shape)]


@lowers("dropout")
def _dropout(c: Canonicalizer, layer: m.DropoutLayer, name: str, shape: Shape, where: Path) -> list:
    return [ir.Dropout(name=name, shape=shape, rate=layer.rate)]


@lowers("activation")
def _activation(
    c: Canonicalizer, layer: m.ActivationLayer, name: str, shape: Shape, where: Path
) -> list:
    spec = m.ActivationSpec(
        function=layer.function,
        alpha=layer.alpha,
        negative_slope=layer.negative_slope,
        approximate=layer.approximate,
    )
    resolved = c.activation(spec, where, sub=())
    return [build.activation(name, shape, resolved)] if resolved else []


@lowers("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm")
def _norm(c: Canonicalizer, layer: Any, name: str, shape: Shape, where: Path) -> list:
    kind = str(where[-1]).removesuffix("_norm")
    fields = {
        k: v
        for k, v in layer.model_dump().items()
        if k not in ("name", "inputs", "shape", "params")
    }
    resolved, problems = resolve_norm(
        m.NormSpec.model_validate({"kind": kind, **fields}), c.defaults.norm
    )
    for field, message in problems:
        c.fail((*where, field), message)
    return [build.norm(name, shape, resolved)]


@lowers("add", "multiply", "concat")
def _join(c: Canonicalizer, layer: m.JoinLayer, name: str, shape: Shape, where: Path) -> list:
    """The join itself; the values it reads are wired by name (:mod:`normspec.spec.wiring`),
    which gives its shape."""
    kind = str(where[-1])
    return [ir.OPS[kind](op=kind, name=name, shape=shape)]


@lowers("residual")
def _residual(
    c: Canonicalizer, layer: m.ShortcutLayer, name: str, shape: Shape, where: Path
) -> list:
    body, out = c.layers(layer.body, (*where, "body"), shape, f"{name}_")
    if out is None:
        raise ShapeError("the residual body has errors")
    shortcut: list[Lowered]
    if isinstance(layer.shortcut, list):
        shortcut, short_out = c.layers(layer.shortcut, (*where, "shortcut"), shape, f"{name}_")
        if short_out is None:
            raise ShapeError("the residual shortcut has errors")
    elif layer.shortcut == "identity" or (layer.shortcut == "auto" and out == shape):
        shortcut, short_out = [], shape
    else:
        shortcut = [*_projection(c, name, shape, out, c.defaults.norm, where)]
        short_out = shortcut[-1].shape
    if short_out != out:
        hint = "; use shortcut: projection" if not shortcut else ""
        raise ShapeError(
            f"residual add of mismatched shapes: body gives {build.fmt(out)}, "
            f"shortcut gives {build.fmt(short_out)}{hint}",
            "shortcut",
        )
    return [residual(name, out, body, shortcut)]


def residual(
    name: str, shape: Shape, body: Sequence[Lowered], shortcut: Sequence[Lowered]
) -> Branches:
    return Branches(name=name, shape=shape, body=tuple(body), shortcut=tuple(shortcut))


def _projection(
    c: Canonicalizer, name: str, shape: Shape, out: Shape, norm_field: Any, where: Path
) -> list[ir.Op]:
    """1x1 conv (or dense) with the strides that map ``shape`` onto ``out``, then the norm."""
    norm, _ = resolve_norm(norm_field, c.defaults.norm)
    use_bias = norm.kind != "batch"
    proj = c.claim(f"{name}_proj", where)
    if len(shape) == 1:
        if len(out) != 1:
            raise ShapeError(f"cannot project {build.fmt(shape)} onto {build.fmt(out)}")
        op: ir.Op = build.dense(proj, shape, out[0], use_bias, "glorot_uniform", "zeros")
        ops = [op]
    else:
        if len(out) != len(shape):
            raise ShapeError(f"cannot project {build.fmt(shape)} onto {build.fmt(out)}")
        strides = tuple(_stride_for(n, o) for n, o in zip(shape[:-1], out[:-1], strict=True))
        if any(s is None for s in strides):
            raise ShapeError(
                f"no 1x1 strided projection maps {build.fmt(shape)} onto {build.fmt(out)}",
                "shortcut",
            )
        rank = len(shape) - 1
        ops = [
            build.conv(
                "conv1d" if rank == 1 else "conv2d",
                proj,
                shape,
                filters=out[-1],
                kernel=(1,) * rank,
                strides=tuple(int(s or 1) for s in strides),
                padding="valid",
                dilation=(1,) * rank,
                groups=1,
                use_bias=use_bias,
                k_init=c.defaults.kernel_init,
                b_init=c.defaults.bias_init,
            )
        ]
    if norm.kind != "none":
        norm_name = c.claim(f"{proj}_{SHORT_NORM[norm.kind]}", where)
        ops.append(build.norm(norm_name, ops[-1].shape, norm))
    return ops


def _stride_for(size: int, out: int) -> int | None:
    for s in range(1, size + 1):
        if (size - 1) // s + 1 == out:
            return s
    return None


@lowers("residual_block")
def _residual_block(
    c: Canonicalizer, layer: m.BasicBlockLayer, name: str, shape: Shape, where: Path
) -> list:
    if len(shape) not in (2, 3):
        raise ShapeError(f"residual_block needs a conv input, got {build.fmt(shape)}")
    rank = len(shape) - 1
    kind = "conv1d" if rank == 1 else "conv2d"
    norm_field = layer.norm if layer.norm is not None else c.defaults.norm
    norm = c.norm(norm_field, where)
    if norm.kind == "none" and layer.norm is None:
        norm, _ = resolve_norm("batch", c.defaults.norm)
    act = c.activation(layer.activation, where)
    pad = layer.kernel // 2

    def conv(role: str, shape: Shape, strides: int) -> ir.Op:
        return build.conv(
            kind,
            c.claim(f"{name}_{role}", where),
            shape,
            filters=layer.filters,
            kernel=(layer.kernel,) * rank,
            strides=(strides,) * rank,
            padding=pad,
            dilation=(1,) * rank,
            groups=1,
            use_bias=False,
            k_init=c.defaults.kernel_init,
            b_init=c.defaults.bias_init,
        )

    def norm_op(role: str, shape: Shape) -> list[ir.Op]:
        if norm.kind == "none":
            return []
        return [build.norm(c.claim(f"{name}_{role}", where), shape, norm)]

    def act_op(role: str, shape: Shape) -> list[ir.Op]:
        return [build.activation(c.claim(f"{name}_{role}", where), shape, act)] if act else []

    conv1 = None
    project = layer.strides != 1 or shape[-1] != layer.filters
    if layer.style == "post":
        conv1 = conv("conv1", shape, layer.strides)
        body = [conv1, *norm_op("norm1", conv1.shape), *act_op("act1", conv1.shape)]
        conv2 = conv("conv2", conv1.shape, 1)
        body += [conv2, *norm_op("norm2", conv2.shape)]
        out = conv2.shape
        shortcut = _proj_conv(c, name, shape, out, layer.strides, norm) if project else []
        return [residual(name, out, body, shortcut), *act_op("out_act", out)]
    pre = [*norm_op("pre_norm", shape), *act_op("pre_act", shape)]
    conv1 = conv("conv1", shape, layer.strides)
    body = [conv1, *norm_op("norm2", conv1.shape), *act_op("act2", conv1.shape)]
    conv2 = conv("conv2", conv1.shape, 1)
    body.append(conv2)
    out = conv2.shape
    if project:
        shortcut = _proj_conv(c, name, shape, out, layer.strides, None)
        return [*pre, residual(name, out, body, shortcut)]
    return [residual(name, out, pre + body, [])]


def _proj_conv(
    c: Canonicalizer, name: str, shape: Shape, out: Shape, strides: int, norm: ResolvedNorm | None
) -> list[ir.Op]:
    rank = len(shape) - 1
    proj = build.conv(
        "conv1d" if rank == 1 else "conv2d",
        c.claim(f"{name}_proj", ()),
        shape,
        filters=out[-1],
        kernel=(1,) * rank,
        strides=(strides,) * rank,
        padding="valid",
        dilation=(1,) * rank,
        groups=1,
        use_bias=False,
        k_init=c.defaults.kernel_init,
        b_init=c.defaults.bias_init,
    )
    if norm is None or norm.kind == "none":
        return [proj]
    return [proj, build.norm(c.claim(f"{name}_proj_{SHORT_NORM[norm.kind]}", ()), out, norm)]
