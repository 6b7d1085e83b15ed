"""The lowering table: spec layer kind -> the function that turns such a layer into IR ops.

:mod:`normspec.spec.lowering` fills it (one ``@lowers`` per kind); the canonicalizer reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from normspec.errors import Path

if TYPE_CHECKING:
    from normspec.spec.branches import Lowered
    from normspec.spec.canonicalize import Canonicalizer

Shape = tuple[int, ...]
SHORT_NORM = {"batch": "bn", "layer": "ln", "group": "gn", "instance": "in", "rms": "rms"}
"""Suffix of the name of a norm op derived from its layer's name (``conv_1_bn``)."""

Lowering = Callable[["Canonicalizer", Any, str, Shape, Path], "list[Lowered]"]
LOWER: dict[str, Lowering] = {}


def lowers(*kinds: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the lowering of ``kinds``; each kind has one."""

    def register(fn: Lowering) -> Lowering:
        for kind in kinds:
            if kind in LOWER:
                raise ValueError(f"layer kind {kind!r} already has a lowering")
            LOWER[kind] = fn
        return fn

    return register
