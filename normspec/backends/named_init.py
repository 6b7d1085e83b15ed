"""Which of the spec's named initializers drew a kernel, told from the numbers the canonical
spec records: a backend then draws the kernel with a function of that name, which computes the
distribution from the weight's fans with the arithmetic of
:func:`normspec.ir.initializers.resolve` (PyTorch ``he_normal_(self.conv1.weight)``, Flax
``kernel_init=he_normal()``), instead of writing the numbers out per layer.

The functions count the fan-out of one group, so a grouped convolution's Glorot initializer is
never told (it keeps its numbers), and where two names give the same numbers (LeCun and Glorot
when fan-in equals fan-out) the first of :data:`NAMED` is told: it draws the same values.
"""

from __future__ import annotations

import math

from normspec.ir import initializers
from normspec.ir import ops as ir

NAMED = (
    "he_normal",
    "lecun_normal",
    "glorot_normal",
    "he_uniform",
    "lecun_uniform",
    "glorot_uniform",
)
"""The named initializers drawn from the fans alone, each with a function in every backend
that has them."""


def named_initializer(op: ir.Dense | ir.Conv1D | ir.Conv2D, channels: int) -> str | None:
    """The name whose function draws exactly ``op``'s kernel initializer (``channels``: those of
    the op's input), or None."""
    if isinstance(op, ir.Dense):
        fans, grouped = (channels, op.units), False
    else:
        size = math.prod(op.kernel)
        fans = (channels // op.groups * size, op.filters // op.groups * size)
        grouped = op.groups != 1
    for name in NAMED:
        if grouped and name.startswith("glorot"):
            continue
        if initializers.resolve(name, *fans) == op.kernel_init:
            return name
    return None
