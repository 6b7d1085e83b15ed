"""What every backend's printer shares: where one op is printed (:class:`BaseSite`), the table of
printers keyed by IR op class, and the walk that prints a sequence of ops."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from normspec.ir import ops as ir
from normspec.ir.ops import Shape

Emitter = Callable[[Any, Any], None]
"""``(op, site) -> None``: prints one op at its site (each backend's ``Site``)."""

S = TypeVar("S", bound="BaseSite")


@dataclass
class BaseSite:
    """Where one op is printed: it reads the variable ``src`` and assigns its result to ``dst``;
    ``input_shape`` is the shape that enters it, ``depth`` its residual nesting (0 at the top
    level, which picks the names of branch variables). Each backend's ``Site`` adds how it
    writes a layer into its ``builder``."""

    builder: Any
    src: str
    dst: str
    input_shape: Shape
    depth: int


def emit_sequence(
    site: S,
    ops: tuple[ir.Op, ...],
    emitters: Mapping[type[ir.Op], Emitter],
    *,
    child: Callable[[S, str, Shape, ir.Op], S] | None = None,
    after: Callable[[ir.Op], None] | None = None,
) -> str:
    """Print ``ops`` in order, from ``site.src`` into ``site.dst``; returns the variable holding
    the result (``site.src`` itself when ``ops`` is empty). Each op gets ``child(site, src,
    shape, op)`` (by default ``site`` reading ``src`` of ``shape``); ``after`` sees each op once
    it is printed."""
    src, shape = site.src, site.input_shape
    for op in ops:
        if child is None:
            sub = dataclasses.replace(site, src=src, input_shape=shape)
        else:
            sub = child(site, src, shape, op)
        emitters[type(op)](op, sub)
        if after is not None:
            after(op)
        src, shape = sub.src, op.shape
    return src
