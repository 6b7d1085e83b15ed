"""What the lowering of a layer list produces before it becomes the canonical nodes: ops, and
residuals as :class:`Branches` (their body's and shortcut's lowered items, joined by an add).

:func:`chain_nodes` flattens them into the canonical graph (:mod:`normspec.ir.nodes`): a residual
becomes the nodes of its body and of its shortcut, each reading its predecessor (the first
reading the residual's input), then an ``add`` that carries the residual's name and reads the
two branch results (the residual's input itself for an empty branch), its nodes scoped
``(name, "body")`` and ``(name, "shortcut")``. Every other op is one node reading the value
before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from normspec.ir import ops as ir
from normspec.ir.nodes import GraphNode

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Branches:
    """A residual as lowered: ``body(x) + shortcut(x)``; an empty shortcut is the identity."""

    name: str
    shape: Shape
    body: tuple[Lowered, ...]
    shortcut: tuple[Lowered, ...]
    op: str = "residual"

    @property
    def params(self) -> int:
        """The total of its branches' (its add has none)."""
        return sum(item.params for item in (*self.body, *self.shortcut))


Lowered = ir.Op | Branches
"""One item of a lowered layer list."""


def chain_nodes(
    items: Sequence[Lowered], src: str, shape: Shape, scope: tuple[str, ...], out: list[GraphNode]
) -> str:
    """Append to ``out`` the nodes of ``items`` reading ``src`` (of ``shape``) in ``scope``;
    returns the name of the last value."""
    for item in items:
        if isinstance(item, Branches):
            body = chain_nodes(item.body, src, shape, (*scope, item.name, "body"), out)
            shortcut = chain_nodes(item.shortcut, src, shape, (*scope, item.name, "shortcut"), out)
            join = ir.Add(name=item.name, shape=item.shape)
            shapes = (item.shape, item.shape)
            out.append(
                GraphNode(op=join, inputs=(body, shortcut), input_shapes=shapes, scope=scope)
            )
        else:
            out.append(GraphNode(op=item, inputs=(src,), input_shapes=(shape,), scope=scope))
        src, shape = item.name, item.shape
    return src
