"""The PyTorch printer table: IR op class -> the function that writes that op.

Filled by ``register`` from :mod:`normspec.backends.torch.emitter` (layers, pooling, shape
ops, activations, residuals) and :mod:`normspec.backends.torch.normalization`.
"""

from __future__ import annotations

from normspec.backends.printing import Printers
from normspec.ir.ops import Shape

PRINTERS = Printers("PyTorch")
EMITTERS = PRINTERS.emitters
"""IR op class -> the function that emits its module and its line of ``forward``."""
WEIGHT_MAPS = PRINTERS.weight_maps
"""IR op class -> where its layer holds each of its weights; every op with weights has one."""
register = PRINTERS.register


def spatial_dims(shape: Shape) -> int:
    """Spatial axes of a channels-last shape without the batch axis (0 for flat tensors)."""
    return len(shape) - 1
