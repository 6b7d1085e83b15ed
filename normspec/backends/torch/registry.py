"""The PyTorch emitter table: IR op class -> the function that writes that op.

Filled by :func:`register` from :mod:`normspec.backends.torch.emitter` (layers, pooling, shape
ops, activations, residuals) and :mod:`normspec.backends.torch.normalization`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from normspec.backends.torch.context import Site
from normspec.ir import ops as ir
from normspec.ir.ops import Shape
from normspec.ir.registry import Registry

Emitter = Callable[[Any, Site], None]
EMITTERS: Registry[type[ir.Op], Emitter] = Registry("PyTorch emitter")
"""IR op class -> the function that emits its module and its line of ``forward``."""

E = TypeVar("E", bound=Emitter)


def register(*classes: type[ir.Op]) -> Callable[[E], E]:
    """Register the decorated function as the emitter of ``classes``; duplicates raise."""
    return EMITTERS.decorator(*classes)


def emit_sequence(site: Site, ops: tuple[ir.Op, ...]) -> None:
    """Emit ``ops`` in order, from ``site.src`` into ``site.dst``."""
    shape = site.input_shape
    for op in ops:
        child = Site(site.builder, site.src, site.dst, shape, site.depth)
        EMITTERS[type(op)](op, child)
        site.src, shape = child.src, op.shape


def spatial_dims(shape: Shape) -> int:
    """Spatial axes of a channels-last shape without the batch axis (0 for flat tensors)."""
    return len(shape) - 1
