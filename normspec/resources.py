"""Memory estimates of a spec, from its canonical form alone (no framework is imported).

Activations: the output of every op (residual children and the residual's own sum each once;
the input batch itself not counted) x the dtype's bytes x the batch size, for one forward pass.
"""

from __future__ import annotations

from normspec.costs import size
from normspec.ir.graph import CanonicalSpec

DTYPE_BYTES = {"float32": 4, "float64": 8}


def activation_bytes(spec: CanonicalSpec, batch_size: int | None = None) -> int:
    """Bytes of every op's output for one forward pass of ``batch_size`` samples (default: the
    spec's ``train.batch_size``)."""
    batch = spec.train.batch_size if batch_size is None else batch_size
    elements = sum(size(site.op.shape) for site in spec.walk())
    return elements * DTYPE_BYTES[spec.input.dtype] * batch


def format_bytes(count: int) -> str:
    """``count`` bytes in binary units: ``512 B``, ``1.5 KiB``, ``59.6 GiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
