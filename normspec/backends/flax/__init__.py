"""Flax NNX: emit an ``nnx.Module`` class and drive the model (optax + ``nnx.jit``).

Emission needs only normspec; building, running and training import JAX, Flax and optax on
first use. JAX's 64-bit mode is turned on only by building a float64 spec (its emitted module
does it); float32 models are float32 either way, since every layer gets its dtype explicitly.
:mod:`~.runtime` builds the model, moves weights and runs forward passes, :mod:`~.training`
takes the explicit training steps of parity checks and :mod:`~.trainer` is the idiomatic
``fit`` and ``predict``.
"""

from __future__ import annotations

from normspec.backends.flax.module import generate
from normspec.backends.lazy import LazyBackend
from normspec.ir.graph import CanonicalSpec


def emit(spec: CanonicalSpec) -> str:
    return generate(spec).source


BACKEND = LazyBackend("flax", emit)

__all__ = ["BACKEND", "emit"]
