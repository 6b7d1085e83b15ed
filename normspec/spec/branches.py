"""What the lowering of a layer list produces before it becomes the canonical nodes: ops, and
residuals as :class:`Branches` (their body's and shortcut's lowered items, joined by an add).

:func:`to_nodes` flattens them into the canonical graph (:mod:`normspec.ir.nodes`): a residual
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
from normspec.ir.nodes import INPUT, GraphNode

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


def to_nodes(items: Sequence[Lowered], input_shape: Shape) -> tuple[GraphNode, ...]:
    """The canonical nodes of the lowered layer list ``items`` reading the spec's input."""
    nodes: list[GraphNode] = []
    chain_nodes(items, INPUT, input_shape, (), nodes)
    return tuple(nodes)


def node_count(items: Sequence[Lowered]) -> int:
    """How many nodes ``items`` become (a residual: its branches' and its add)."""
    return sum(
        1 + (node_count(item.body) + node_count(item.shortcut) if isinstance(item, Branches) else 0)
        for item in items
    )


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
