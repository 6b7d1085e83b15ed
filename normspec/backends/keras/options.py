"""Keras arguments several emitters share: initializers and padding."""

from __future__ import annotations

import math
from typing import Any

from normspec.backends.codegen import Call, call
from normspec.backends.named_init import named_initializer
from normspec.backends.printing import Site
from normspec.ir import ops as ir
from normspec.ir.ops import Pair, Shape
from normspec.ir.shapes import is_same_padding


def initializer(init: Any, site: Site) -> Call:
    """The IR initializer as a Keras initializer with its numbers."""
    if isinstance(init, ir.Uniform):
        return call("keras.initializers.RandomUniform", minval=init.low, maxval=init.high)
    if isinstance(init, ir.Normal):
        return call("keras.initializers.RandomNormal", mean=init.mean, stddev=init.std)
    if isinstance(init, ir.TruncatedNormal):
        two_sigma = all(
            math.isclose(bound, init.mean + sign * 2.0 * init.std, rel_tol=1e-12)
            for bound, sign in ((init.low, -1.0), (init.high, 1.0))
        )
        if two_sigma:  # Keras re-draws values beyond two standard deviations
            return call("keras.initializers.TruncatedNormal", mean=init.mean, stddev=init.std)
        cls = site.builder.helper("BoundedTruncatedNormal")
        return call(cls, mean=init.mean, stddev=init.std, minval=init.low, maxval=init.high)
    return call("keras.initializers.Constant", value=float(init.value))


VARIANCE_SCALING = {
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
}
"""Keras' ``VarianceScaling`` arguments of each named initializer: it computes the numbers
with the arithmetic of :func:`normspec.ir.initializers.resolve` (``scale / fan``, the
0.87962566103423978 correction, truncation at two standard deviations)."""


def kernel_initializer(op: ir.Dense | ir.Conv1D | ir.Conv2D, site: Site) -> Call:
    """Keras' ``VarianceScaling`` with its arguments written out where it draws exactly the
    op's kernel initializer from the kernel's fans; otherwise the initializer's numbers."""
    named = named_initializer(op, site.input_shape[-1])
    if named is None:
        return initializer(op.kernel_init, site)
    scale, mode, distribution = VARIANCE_SCALING[named]
    return call(
        "keras.initializers.VarianceScaling", scale=scale, mode=mode, distribution=distribution
    )


def padding_mode(
    site: Site, window: Shape, strides: Shape, padding: tuple[Pair, ...], dilation: Shape
) -> str | None:
    """'valid' for no padding, 'same' when the pairs are TF's SAME for this input size (the
    extra cell at the end), None when the padding must be written out."""
    if not any(p for pair in padding for p in pair):
        return "valid"
    site.builder.notes.add("padding")
    if is_same_padding(site.input_shape[:-1], window, strides, padding, dilation):
        return "same"
    return None


def zero_pad(op: ir.Op, site: Site, padding: tuple[Pair, ...]) -> None:
    """A ZeroPadding layer named ``<op>_pad`` with the explicit pairs."""
    name = site.builder.names.derived(op.name, "pad")
    rank = len(padding)
    pads: Any = padding[0] if rank == 1 else padding  # ZeroPadding1D takes one pair
    layer = call(f"layers.ZeroPadding{rank}D", padding=pads, data_format="channels_last")
    site.layer(name, layer)
