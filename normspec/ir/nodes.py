"""The nodes of the canonical spec: each op with the names of the values it reads, in
dependency order.

A value is named after the node that computes it; the spec's input is :data:`INPUT`, a name no
op can take. A residual of the spec language is the nodes of its body and of its shortcut, then
an ``add`` node (:class:`~normspec.ir.ops.Add`) that carries the residual's name and reads the two
branch results; each node's ``scope`` records the residuals and branches it was lowered from
(:mod:`normspec.spec.branches`), and the uses of blocks of the spec language: ``(use, block)``
pairs, for ``se1``'s nodes of the block ``squeeze_excite`` ``("se1", "squeeze_excite")``. A use
is where its nodes came from, not a nesting: its nodes are at the depth of the use, what is
outside reads only its last value. Weight keys are the ops' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from normspec.ir import ops as ir
from normspec.ir.constraints import LayerName
from normspec.ir.ops import AnyOp, Node, Shape

INPUT = "input"
"""The name of the spec's input value (reserved: no op is named so)."""
BRANCHES = ("body", "shortcut")
"""The branches of a residual, as a node's ``scope`` names them."""


class GraphNode(Node):
    """One node: its op (or join), the names of the values it reads, the shape of each, and
    where it sits: ``scope`` is the path of residuals and branches around it (``("block_1",
    "body")`` for an op of that residual's body; empty at the top level, and for a residual's
    own ``add``), and of the uses of blocks it is in (``("se1", "squeeze_excite")``).
    :func:`check_graph` checks the names and shapes against the other nodes."""

    op: AnyOp
    inputs: tuple[LayerName | Literal["input"], ...]
    input_shapes: tuple[Shape, ...]
    scope: tuple[LayerName | Literal["body", "shortcut"], ...] = ()

    @property
    def branches(self) -> tuple[str, ...]:
        """Its ``scope`` without the uses of blocks: the residuals and branches around it."""
        return branch_scope(self.scope)

    @property
    def depth(self) -> int:
        """Nesting depth: 0 at the top level, one more inside each residual's branch."""
        return len(self.branches) // 2

    @property
    def path(self) -> str:
        """``block_1 > body > block_1_conv1``: the node's name after its scope."""
        return " > ".join((*self.scope, self.name))

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def shape(self) -> Shape:
        return self.op.shape

    @property
    def input_shape(self) -> Shape:
        """The shape of the (first) value it reads."""
        return self.input_shapes[0]


def branch_scope(scope: tuple[str, ...]) -> tuple[str, ...]:
    """``scope`` without its ``(use, block)`` pairs."""
    pairs = zip(scope[::2], scope[1::2], strict=True)
    return tuple(part for pair in pairs if pair[1] in BRANCHES for part in pair)


def in_use(scope: tuple[str, ...]) -> bool:
    """Whether ``scope`` begins with the ``(use, block)`` pair of a use of a block."""
    return len(scope) >= 2 and scope[1] not in BRANCHES


def uses_of(scope: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The scopes of the uses of blocks ``scope`` is in, outermost first (each ends in its
    ``(use, block)`` pair)."""
    return [scope[: i + 2] for i in range(0, len(scope) - 1, 2) if scope[i + 1] not in BRANCHES]


def check_graph(nodes: tuple[GraphNode, ...], input_shape: Shape) -> None:
    """Raise ``ValueError`` unless every node reads values computed before it (or
    :data:`INPUT`) with the shapes it records, names are unique, a join reads at least two values
    of its own shape and any other op one, and each scope pairs an ``add`` of the graph with
    ``body`` or ``shortcut``, or the use of a block (a name no node has) with the block; the
    nodes of a use come one after another, and a node outside a use reads only its last."""
    shapes: dict[str, Shape] = {INPUT: input_shape}
    scopes: dict[str, tuple[str, ...]] = {INPUT: ()}
    joins = {node.name for node in nodes if isinstance(node.op, ir.Add)}
    last: dict[tuple[str, ...], str] = {}
    uses = _Uses()
    for node in nodes:
        where = f"node '{node.name}'"
        if node.name in shapes:
            raise ValueError(f"{where}: a second value of that name")
        if len(node.inputs) != len(node.input_shapes):
            raise ValueError(f"{where}: {len(node.inputs)} inputs, {len(node.input_shapes)} shapes")
        for name, shape in zip(node.inputs, node.input_shapes, strict=True):
            if name not in shapes:
                raise ValueError(f"{where} reads '{name}', which no node before it computes")
            if shapes[name] != shape:
                raise ValueError(f"{where} reads '{name}' as {shape}; it is {shapes[name]}")
        try:
            check_arity(node)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        scope = node.scope
        if len(scope) % 2 or set(node.branches[::2]) - joins:
            raise ValueError(
                f"{where}: scope {list(scope)} is not pairs of an add and a branch, or of a "
                "block's use and the block"
            )
        uses.enter(node)
        for name in node.inputs:
            if not uses.reads(node, scopes[name], name):
                raise ValueError(f"{where} reads '{name}' inside a use of a block it is not in")
            if not _visible(
                node, branch_scope(scopes[name]), last.get(branch_scope(scopes[name])) == name
            ):
                raise ValueError(f"{where} reads '{name}' inside a branch it is not part of")
        shapes[node.name], scopes[node.name], last[node.branches] = node.shape, scope, node.name
    taken = {use[-2] for use in uses.last} & set(shapes)
    if taken:
        raise ValueError(f"scope: the use of a block '{min(taken)}' has the name of a node")


class _Uses:
    """The uses of blocks seen so far: each one's nodes come together, are named after it
    (``se1_gate``) and read one value from outside it, and what is outside a use reads only
    its last value. A use is not inside a residual's branch (the spec language has none)."""

    def __init__(self) -> None:
        self.open: list[tuple[str, ...]] = []
        self.last: dict[tuple[str, ...], str] = {}
        self.closed: set[str] = set()
        self.source: dict[tuple[str, ...], str] = {}
        """Each use's one value read from outside it."""

    def enter(self, node: GraphNode) -> None:
        inside = uses_of(node.scope)
        for use in self.open:
            if use not in inside:
                self.closed.add(use[-2])
        self.open = inside
        for use in inside:
            name = use[-2]
            if name in self.closed:
                raise ValueError(f"node '{node.name}': the nodes of the use '{name}' are apart")
            if branch_scope(use[:-2]):
                raise ValueError(f"node '{node.name}': the use '{name}' is in a residual's branch")
            if node.name.removeprefix(name + "_") in (node.name, INPUT):
                raise ValueError(f"node '{node.name}' of the use '{name}' is not named {name}_...")
            self.last[use] = node.name

    def reads(self, node: GraphNode, scope: tuple[str, ...], name: str) -> bool:
        """Whether ``node`` may read the value ``name`` of ``scope``: its own uses' values,
        and the last value of any other. Raises when a use reads a second value from outside."""
        own = uses_of(node.scope)
        for use in own:
            if use not in uses_of(scope) and self.source.setdefault(use, name) != name:
                raise ValueError(
                    f"node '{node.name}' reads '{name}', a second value from outside the use "
                    f"'{use[-2]}' (it reads '{self.source[use]}')"
                )
        return all(use in own or self.last.get(use) == name for use in uses_of(scope))


def use_nodes(members: tuple[GraphNode, ...]) -> tuple[GraphNode, ...]:
    """The nodes of one use of a block (``members``, whose scopes begin with the use) as the
    block names them: without the use's name (``gate`` for ``se1_gate``, and so the residuals
    and uses inside it), reading :data:`INPUT` for the value the use reads, scoped within
    the use."""
    prefix = members[0].scope[0] + "_"
    inside = {node.name for node in members}
    out = []
    for node in members:
        op = node.op.model_copy(update={"name": node.name.removeprefix(prefix)})
        inputs = tuple(n.removeprefix(prefix) if n in inside else INPUT for n in node.inputs)
        scope = tuple(
            part.removeprefix(prefix) if i % 2 == 0 else part
            for i, part in enumerate(node.scope[2:])
        )
        out.append(node.model_copy(update={"op": op, "inputs": inputs, "scope": scope}))
    return tuple(out)


def _visible(node: GraphNode, scope: tuple[str, ...], last: bool) -> bool:
    """A node reads values of its own branch or those around it; an add also reads the last
    value of each of its own branches (``scope``: the branches around the value)."""
    if scope == node.branches[: len(scope)]:
        return True
    own = (*node.branches, node.name)
    return (
        isinstance(node.op, ir.Add)
        and scope[: len(own)] == own
        and len(scope) == len(own) + 1
        and last
    )


def check_arity(node: GraphNode) -> None:
    """Raise ``ValueError`` unless a join reads two or more values that give its shape and any
    other op one value."""
    if isinstance(node.op, ir.Join):
        if len(node.inputs) < 2:
            raise ValueError(f"{node.op.op} reads two or more values")
        shape = node.op.combine(node.input_shapes)
        if shape != node.shape:
            raise ValueError(f"its inputs give {shape}, not {node.shape}")
    elif len(node.inputs) != 1:
        raise ValueError(f"a {node.op.op} node reads one value")


def with_openings(
    nodes: tuple[GraphNode, ...], opened: set[str] | None = None
) -> Iterator[tuple[tuple[str, ...], GraphNode]]:
    """Each node with the residuals that begin at it (outermost first): those of its scope,
    and an ``add``'s own, not yet seen (``opened``, if given, holds those seen before and is
    updated)."""
    seen = set() if opened is None else opened
    residuals = residual_names(nodes)
    for node in nodes:
        names = [*node.branches[::2], *([node.name] if node.name in residuals else [])]
        new = tuple(name for name in names if name not in seen)
        seen.update(new)
        yield new, node


def residual_names(nodes: tuple[GraphNode, ...]) -> set[str]:
    """The adds that join a residual: those a scope names, and those whose branches are both
    empty (they read one value twice). Any other add is a join of its own."""
    named = {name for node in nodes for name in node.branches[::2]}
    empty = {
        node.name
        for node in nodes
        if isinstance(node.op, ir.Add) and len(node.inputs) == 2 and len(set(node.inputs)) == 1
    }
    return named | empty


def inside(nodes: tuple[GraphNode, ...], residual: str) -> list[GraphNode]:
    """The nodes of ``residual``'s body and shortcut, nested ones included (not its add)."""
    return [node for node in nodes if residual in node.branches[::2]]
