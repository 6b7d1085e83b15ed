"""The PyTorch emitter table: IR op class -> the function that writes that op.

Filled by :func:`register` from :mod:`normspec.backends.torch.emitter` (layers, pooling, shape
ops, activations, residuals) and :mod:`normspec.backends.torch.normalization`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from normspec.backends import printing
from normspec.backends.weight_maps import WeightMap, WeightMaps
from normspec.ir import ops as ir
from normspec.ir.ops import Shape
from normspec.ir.registry import Registry

EMITTERS: Registry[type[ir.Op], printing.Emitter] = Registry("PyTorch emitter")
"""IR op class -> the function that emits its module and its line of ``forward``."""

E = TypeVar("E", bound=printing.Emitter)


WEIGHT_MAPS: WeightMaps = Registry("PyTorch weight map")
"""IR op class -> where its layer holds each of its weights (see
:mod:`normspec.backends.weight_maps`); every op with weights has one."""


def register(*classes: type[ir.Op], weights: WeightMap | None = None) -> Callable[[E], E]:
    """Register the decorated function as the emitter of ``classes`` and, for ops with
    weights, where the layers it writes hold them; duplicates raise."""
    if weights is not None:
        for cls in classes:
            WEIGHT_MAPS.add(cls, weights)
    return EMITTERS.decorator(*classes)


def spatial_dims(shape: Shape) -> int:
    """Spatial axes of a channels-last shape without the batch axis (0 for flat tensors)."""
    return len(shape) - 1
