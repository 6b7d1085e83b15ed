"""Which values the layers of the top-level list read: the previous layer's output by default,
or the layers named in ``inputs:`` (``input`` for the spec's input, after its normalization);
``add`` joins two or more of them. The nodes of each layer are appended as it is lowered.

A name must be of a layer before the reading one: an unknown name, a later layer (which is also
how a cycle would be written) or the layer itself is a problem at the name, with a did-you-mean.
A layer whose output nothing reads, other than the last, is a problem too (it would not reach
the output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from normspec.errors import Path, Problem
from normspec.ir import ops as ir
from normspec.ir.nodes import INPUT, GraphNode
from normspec.loader import Document
from normspec.spec.branches import Lowered, chain_nodes
from normspec.spec.ops_builder import fmt
from normspec.spec.suggestions import suggest

Shape = tuple[int, ...]
JOINS = ("add", "multiply", "concat")
"""The layer kinds that join the layers they name."""
INPUT_NAME = "input"
"""What ``inputs:`` calls the spec's input (after its normalization, as the first layer reads
it by default)."""


@dataclass
class Value:
    """The output of a layer: the node holding it (None when the layer is unknown from an
    error), its shape, and where the layer is."""

    node: str | None
    shape: Shape | None
    where: Path
    read: bool = False


@dataclass
class Wiring:
    """The nodes of the top-level list so far and the value of every layer by name."""

    doc: Document
    problems: list[Problem]
    later: set[str]
    """Names given to layers further down (a read of one is a read of a later layer)."""
    nodes: list[GraphNode] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)
    current: Value = field(default_factory=lambda: Value(INPUT, None, ()))
    scope: tuple[str, ...] = ()
    """The uses of blocks the layers are in (:class:`~normspec.ir.nodes.GraphNode`)."""

    def start(self, ops: Sequence[ir.Op], shape: Shape | None) -> None:
        """Begin with the input (``ops``: its normalization)."""
        self.current = Value(INPUT, shape, ("input",), read=True)
        if shape is not None and ops:
            last = self.append(ops, self.current)
            self.current = Value(last, shape, ("input", "normalize"), read=True)
        self.values[INPUT_NAME] = self.current

    def inside(self, source: Value, later: list[str], use: str, block: str) -> Wiring:
        """The wiring of the layers of ``block`` in its use ``use``: they read ``source``
        first and as ``input``, know each other by their names in the block, and append to
        the same nodes, scoped in the use."""
        value = Value(source.node, source.shape, source.where, read=True)
        scope = (*self.scope, use, block)
        inner = Wiring(self.doc, self.problems, set(later), self.nodes, current=value, scope=scope)
        inner.values[INPUT_NAME] = value
        return inner

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    # --- reading names ----------------------------------------------------------------------

    def sources(self, entry_body: Any, kind: str, at: Path, own: str | None) -> list[Value] | None:
        """The values the layer at ``at`` reads (the previous layer's by default); None when
        one is unknown (reported here, or quietly for a layer that failed before)."""
        raw, path = _written_inputs(entry_body, kind, at)
        if raw is None:
            self.current.read = True
            return [self.current] if self.current.node is not None else None
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return None  # the model's validation says what is wrong with it
        found: list[Value] = []
        for j, name in enumerate(names):
            value = self.resolve(name, own, path if isinstance(raw, str) else (*path, j))
            if value is None:
                return None
            found.append(value)
        return found

    def resolve(self, name: str, own: str | None, path: Path) -> Value | None:
        value = self.values.get(name)
        if value is not None:
            value.read = True
            return value if value.node is not None else None
        if name == own:
            self.fail(path, f"the layer '{name}' cannot read itself")
        elif name in self.later:
            self.fail(path, f"'{name}' is a later layer: a layer reads only layers before it")
        else:
            hint = suggest(name, self.values)
            self.fail(path, f"unknown layer '{name}'{hint}; inputs name layers before this one")
        return None

    def check_one(self, sources: list[Value], kind: str, at: Path) -> Value | None:
        if len(sources) != 1:
            self.fail((*at, "inputs"), f"{kind} reads one input; join several with add first")
            return None
        return sources[0]

    def check_join(self, sources: list[Value], kind: str, at: Path) -> Shape | None:
        """The shape of the join ``kind`` of ``sources``, or None (reported) when they do not
        fit."""
        join = ir.OPS[kind]
        if len(sources) < 2 or not issubclass(join, ir.Join):
            return None  # the model's validation says so
        try:
            return join.combine(tuple(v.shape or () for v in sources))
        except ValueError:
            listed = ", ".join(f"{v.node} gives {fmt(v.shape or ())}" for v in sources)
            self.fail(at, f"{kind} of shapes that do not fit: {listed}{_JOIN_RULE[kind]}")
            return None

    # --- writing nodes ----------------------------------------------------------------------

    def append(self, items: Sequence[Lowered], source: Value) -> str:
        """The nodes of a layer's lowered ``items`` reading ``source``; returns its output."""
        assert source.node is not None and source.shape is not None
        return chain_nodes(items, source.node, source.shape, self.scope, self.nodes)

    def join(self, op: ir.Op, sources: list[Value]) -> str:
        inputs = tuple(str(v.node) for v in sources)
        shapes = tuple(v.shape or () for v in sources)
        self.nodes.append(GraphNode(op=op, inputs=inputs, input_shapes=shapes, scope=self.scope))
        return op.name

    def done(self, name: str | None, node: str | None, shape: Shape | None, where: Path) -> None:
        """The layer ``name`` at ``where`` gave the value ``node`` (None: unknown)."""
        value = Value(node, shape, where)
        if name is not None:
            self.values[name] = value
        self.current = value

    def check_reached(self, since: int = 0) -> None:
        """Every layer's output is read, but the last one's (checked once the rest is sound,
        since a layer refused reads nothing: no problem after the first ``since``)."""
        if self.problems[since:]:
            return
        for name, value in self.values.items():
            if not value.read and value is not self.current and value.node is not None:
                self.fail(
                    value.where,
                    f"the output of '{name}' is never read, so it does not reach the network's "
                    "output: read it in a later layer's inputs, or remove it",
                )


_JOIN_RULE = {
    "add": " (an add reads values of one shape)",
    "multiply": " (a multiply reads values of one shape, and per-channel gates (C,))",
    "concat": " (a concat reads values whose shapes differ only in channels)",
}


def _written_inputs(body: Any, kind: str, at: Path) -> tuple[Any, Path]:
    """``inputs`` as written in a layer's options (an add's shorthand is its inputs)."""
    if isinstance(body, dict):
        return body.get("inputs"), (*at, "inputs")
    if kind in JOINS and body is not None:
        return body, at
    return None, at
