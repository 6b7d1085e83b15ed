"""Construction of IR ops with their shapes checked: the primitives canonicalization uses."""

from __future__ import annotations

import math
from typing import Any

from normspec.ir import ops as ir
from normspec.ir.initializers import resolve as resolve_init
from normspec.ir.shapes import same_padding, window_output
from normspec.spec.models import ActivationSpec, InitializerSpec, Padding
from normspec.spec.norms import ResolvedNorm

MAX_ELEMENTS = 1 << 31
MAX_PARAMS = 1 << 33


class ShapeError(ValueError):
    """A shape problem; ``field`` names the offending field of the layer, if any.

    ``recovered`` is the layer's output shape when the problem does not change it (a bad
    ``groups``, say), so inference goes on and reports the problems of later layers too.
    ``spatial`` marks a window (kernel, pool) that does not fit the spatial axes.
    """

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        recovered: tuple[int, ...] | None = None,
        spatial: bool = False,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.recovered = recovered
        self.spatial = spatial


def fmt(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def check_size(shape: tuple[int, ...], params: int = 0) -> None:
    if math.prod(shape) > MAX_ELEMENTS:
        raise ShapeError(f"output {fmt(shape)} has more than {MAX_ELEMENTS:,} elements per sample")
    if params > MAX_PARAMS:
        raise ShapeError(f"{params:,} parameters is more than normspec allows ({MAX_PARAMS:,})")


def tuple_of(value: int | list[int], rank: int, field: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise ShapeError(f"expected {rank} value(s), got {len(value)}", field)
    return tuple(value)


def padding_pairs(
    padding: Padding,
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[ir.Pair, ...]:
    rank = len(sizes)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        return tuple(
            same_padding(n, k, s, d)
            for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True)
        )
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if len(padding) != rank:
        raise ShapeError(f"expected {rank} padding entries, got {len(padding)}", "padding")
    pairs = []
    for entry in padding:
        if isinstance(entry, int):
            pairs.append((entry, entry))
        elif len(entry) == 2:
            pairs.append((entry[0], entry[1]))
        else:
            raise ShapeError("each padding entry is an int or a [before, after] pair", "padding")
    return tuple(pairs)


def spatial_input(kind: str, shape: tuple[int, ...], rank: int) -> None:
    if len(shape) != rank + 1:
        want = "(length, channels)" if rank == 1 else "(height, width, channels)"
        raise ShapeError(f"{kind} expects a {want} input, got {fmt(shape)}")


def windows(
    kind: str,
    shape: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    pads: tuple[ir.Pair, ...],
    dilation: tuple[int, ...],
) -> tuple[int, ...]:
    out = []
    for n, k, s, p, d in zip(shape[:-1], kernel, strides, pads, dilation, strict=True):
        effective = (k - 1) * d + 1
        if effective > n + p[0] + p[1]:
            padded = tuple(m + q[0] + q[1] for m, q in zip(shape[:-1], pads, strict=True))
            field = "pool" if "pool" in kind else "kernel"
            raise ShapeError(
                f"{field} {fmt(kernel)} is larger than its padded input {fmt(padded)}",
                field,
                spatial=True,
            )
        out.append(window_output(n, k, s, p, d))
    return tuple(out)


def channels_first_hint(shape: tuple[int, ...]) -> str | None:
    """A message for an input shape that looks channels-first (``[1, 28, 28]``: 1, 3 or 4
    first and much larger spatial axes after it), else ``None``."""
    if len(shape) not in (2, 3) or shape[0] not in (1, 3, 4):
        return None
    if min(shape[1:]) < max(8, 4 * shape[0]):
        return None
    axes = "(length, channels)" if len(shape) == 2 else "(height, width, channels)"
    fixed = [*shape[1:], shape[0]]
    return (
        f"input shape {list(shape)} looks channels-first, but normspec shapes are "
        f"channels-last {axes}: write {fixed}"
    )


def initializer(
    spec: InitializerSpec, fan_in: int, fan_out: int
) -> ir.Uniform | ir.Normal | ir.TruncatedNormal | ir.Constant:
    return resolve_init(spec, fan_in, fan_out) if isinstance(spec, str) else spec


def dense(
    name: str, shape: tuple[int, ...], units: int, use_bias: bool, k_init: Any, b_init: Any
) -> ir.Dense:
    if len(shape) != 1:
        raise ShapeError(
            f"dense expects a flat (features,) input, got {fmt(shape)}; "
            "add a flatten or global pooling layer before it"
        )
    fan_in = shape[0]
    params = fan_in * units + (units if use_bias else 0)
    check_size((units,), params)
    return ir.Dense(
        name=name,
        shape=(units,),
        params=params,
        units=units,
        use_bias=use_bias,
        kernel_init=initializer(k_init, fan_in, units),
        bias_init=initializer(b_init, fan_in, units),
    )


def conv(
    kind: str,
    name: str,
    shape: tuple[int, ...],
    *,
    filters: int,
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    padding: Padding,
    dilation: tuple[int, ...],
    groups: int,
    use_bias: bool,
    k_init: Any,
    b_init: Any,
) -> ir.Conv1D | ir.Conv2D:
    rank = 1 if kind == "conv1d" else 2
    spatial_input(kind, shape, rank)
    channels = shape[-1]
    if channels % groups or filters % groups:
        raise ShapeError(
            f"groups={groups} must divide both input channels ({channels}) and filters ({filters})",
            "groups",
        )
    pads = padding_pairs(padding, shape[:-1], kernel, strides, dilation)
    out = (*windows(kind, shape, kernel, strides, pads, dilation), filters)
    fan_in = channels // groups * math.prod(kernel)
    fan_out = filters // groups * math.prod(kernel)
    params = fan_in * filters + (filters if use_bias else 0)
    check_size(out, params)
    cls = ir.Conv1D if rank == 1 else ir.Conv2D
    return cls(
        name=name,
        shape=out,
        params=params,
        filters=filters,
        kernel=kernel,
        strides=strides,
        padding=pads,
        dilation=dilation,
        groups=groups,
        use_bias=use_bias,
        kernel_init=initializer(k_init, fan_in, fan_out),
        bias_init=initializer(b_init, fan_in, fan_out),
    )


def pool(
    kind: str,
    name: str,
    shape: tuple[int, ...],
    *,
    window: tuple[int, ...],
    strides: tuple[int, ...],
    padding: Padding,
    count_include_pad: bool | None,
) -> ir.Op:
    rank = 1 if kind.endswith("1d") else 2
    spatial_input(kind, shape, rank)
    ones = (1,) * rank
    pads = padding_pairs(padding, shape[:-1], window, strides, ones)
    for k, p in zip(window, pads, strict=True):
        if max(p) >= k:
            raise ShapeError(
                f"padding {p} must be smaller than the pool window {k}, "
                "or some windows would hold only padding",
                "padding",
            )
    out = (*windows(kind, shape, window, strides, pads, ones), shape[-1])
    fields: dict[str, Any] = {"pool": window, "strides": strides, "padding": pads}
    classes: dict[str, type[ir.Op]] = {
        "max_pool1d": ir.MaxPool1D,
        "max_pool2d": ir.MaxPool2D,
        "avg_pool1d": ir.AvgPool1D,
        "avg_pool2d": ir.AvgPool2D,
    }
    if kind.startswith("avg"):
        fields["count_include_pad"] = bool(count_include_pad)
    return classes[kind](name=name, shape=out, **fields)


def activation(name: str, shape: tuple[int, ...], spec: ActivationSpec) -> ir.Activation:
    return ir.Activation(
        name=name,
        shape=shape,
        function=spec.function,
        alpha=spec.alpha,
        negative_slope=spec.negative_slope,
        approximate=spec.approximate,
    )


def norm(name: str, shape: tuple[int, ...], resolved: ResolvedNorm) -> ir.Op:
    kind, p = resolved.kind, dict(resolved.params)
    channels = shape[-1]
    if kind == "instance" and math.prod(shape[:-1]) < 2:
        where = "spatial axes" if len(shape) < 2 else "more than one spatial position"
        raise ShapeError(
            f"instance norm needs {where}, got {fmt(shape)}: each channel of a sample would "
            "hold one value, normalized to 0",
            recovered=shape,
        )
    if kind == "group" and channels % int(p["groups"]):  # type: ignore[call-overload]
        message = f"groups={p['groups']} does not divide the {channels} channels"
        raise ShapeError(message, "groups", recovered=shape)
    per_channel = int(bool(p.get("scale"))) + int(bool(p.get("center")))
    params = channels * (per_channel + (2 if kind == "batch" else 0))
    classes: dict[str, type[ir.Op]] = {
        "batch": ir.BatchNorm,
        "layer": ir.LayerNorm,
        "group": ir.GroupNorm,
        "instance": ir.InstanceNorm,
        "rms": ir.RMSNorm,
    }
    return classes[kind](name=name, shape=shape, params=params, **p)


def reshape(name: str, shape: tuple[int, ...], target: list[int]) -> ir.Reshape:
    size = math.prod(shape)
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError("target dimensions are positive, with at most one -1", "shape")
    known = math.prod(d for d in target if d != -1)
    if unknown:
        if size % known:
            raise ShapeError(f"cannot reshape {fmt(shape)} ({size} values) into {target}", "shape")
        target = [size // known if d == -1 else d for d in target]
    if math.prod(target) != size:
        raise ShapeError(f"cannot reshape {fmt(shape)} ({size} values) into {target}", "shape")
    return ir.Reshape(name=name, shape=tuple(target))
