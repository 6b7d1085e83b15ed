"""Reading the canonical form (format version 2): the nodes written out, each checked against
the IR, with every problem located at FILE:LINE:COL; a use of a block is its definition's nodes
(:mod:`normspec.spec.graph_uses`).

A node is ``{op_key: {name, inputs, scope, ...its fields, shape, params}}``. It reads values
computed before it (or ``input``); its declared ``shape`` and ``params`` must be what its op
gives for those inputs. Values are read strictly (``units: 3.0`` or ``use_bias: "yes"`` are
refused), as the spec language reads them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from normspec.errors import Path, Problem, SpecError, shown
from normspec.ir import ops as ir
from normspec.ir.graph import BlockArguments, CanonicalSpec, InputSpec, OutputSpec, TrainSpec
from normspec.ir.nodes import INPUT, GraphNode, branch_scope, check_arity, uses_of
from normspec.loader import Document
from normspec.spec import models as m
from normspec.spec import ops_builder as build
from normspec.spec.graph_uses import UseReader
from normspec.spec.suggestions import suggest
from normspec.spec.validate import validate

Shape = tuple[int, ...]


class GraphInput(m.Model):
    shape: Annotated[list[m.Size], Field(min_length=1, max_length=3)]
    dtype: Literal["float32", "float64"]


class GraphHeader(m.Model):
    """The top-level sections of the canonical form; ``nodes`` items are read one by one and
    ``train`` against the IR's :class:`~normspec.ir.graph.TrainSpec`."""

    normspec: Literal[2]
    name: m.SpecName
    input: GraphInput
    blocks: dict[str, Any] = Field(default_factory=dict)
    nodes: Annotated[list[Any], Field(min_length=1)]
    uses: list[dict[str, Any]] = Field(default_factory=list)
    output: m.OutputSection = m.OutputSection()
    train: dict[str, Any]


def read_graph(doc: Document, max_ops: int) -> CanonicalSpec:
    """The canonical spec of a format-version-2 document; raises :class:`SpecError` listing
    every problem."""
    problems: list[Problem] = []
    if isinstance(doc.data, dict) and "layers" in doc.data and "nodes" not in doc.data:
        message = (
            "format version 2 is the canonical form, whose nodes are written out (nodes:); "
            "a spec with layers: says normspec: 1"
        )
        raise SpecError([*doc.problems, doc.problem(("normspec",), message)])
    header = validate(GraphHeader, doc.data, doc, (), problems)
    if header is None:
        raise SpecError(doc.problems + problems)
    shape = tuple(header.input.shape)
    reader = NodeReader(doc, problems, shape)
    try:
        build.check_size(shape)
    except build.ShapeError as exc:
        reader.fail(("input", "shape"), str(exc).replace("output", "input", 1))
    if len(header.nodes) > max_ops:
        reader.fail(
            ("nodes",), f"{len(header.nodes):,} nodes; normspec handles at most {max_ops:,}"
        )
    uses = UseReader(reader, header.blocks, lambda data, at: _use(data, doc, at, problems), max_ops)
    if len(header.nodes) <= max_ops:
        for i, item in enumerate(header.nodes):
            uses.read(item, ("nodes", i))
        uses.check_used()
        reader.check_scopes()
    listed = [_use(item, doc, ("uses", i), problems) for i, item in enumerate(header.uses)]
    reader.check_uses(listed)
    train = validate(TrainSpec, _strict(header.train), doc, ("train",), problems, strict=True)
    if problems or doc.problems or train is None:
        raise SpecError(doc.problems + problems)
    try:
        return CanonicalSpec(
            name=header.name,
            input=InputSpec(shape=shape, dtype=header.input.dtype),
            nodes=tuple(reader.nodes),
            uses=(*uses.uses, *(u for u in listed if u is not None)),
            output=OutputSpec(logits=header.output.logits),
            train=train,
        )
    except ValidationError as exc:
        where: Path = ("output", "logits") if header.output.logits else ("nodes",)
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SpecError([doc.problem(where, message)]) from None


class NodeReader:
    """Reads the nodes in order, keeping the shape of every value computed so far."""

    def __init__(self, doc: Document, problems: list[Problem], input_shape: Shape) -> None:
        self.doc = doc
        self.problems = problems
        self.shapes: dict[str, Shape] = {INPUT: input_shape}
        self.nodes: list[GraphNode] = []
        self.scoped: list[tuple[Path, tuple[str, ...]]] = []
        self.params = 0
        self.broken: set[str] = set()
        """Names of nodes refused: reading one is not reported again."""

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def read(self, item: Any, at: Path) -> None:
        if not self.read_node(item, at) and isinstance(item, dict) and len(item) == 1:
            body = next(iter(item.values()))
            if isinstance(body, dict) and isinstance(body.get("name"), str):
                self.broken.add(body["name"])

    def read_node(self, item: Any, at: Path) -> bool:
        """Read one node; False when it is refused."""
        if not (isinstance(item, dict) and len(item) == 1):
            self.fail(at, f"a node is {{op: {{name, inputs, ...}}}}, got {shown(item)}")
            return False
        key, body = next(iter(item.items()))
        cls = ir.OPS.get(key) if isinstance(key, str) else None
        if cls is None:
            hint = suggest(key, ir.OPS) if isinstance(key, str) else ""
            known = hint or f"; the ops are {', '.join(ir.OPS)}"
            self.fail(at, f"unknown op {shown(key)}{known}")
            return False
        where = (*at, key)
        if not isinstance(body, dict):
            self.fail(where, f"a {key} node takes a mapping of fields, not {shown(body)}")
            return False
        fields = {k: v for k, v in body.items() if k not in ("inputs", "scope")}
        inputs = self.inputs(body.get("inputs"), where)
        scope = self.scope(body.get("scope", []), where)
        op = validate(
            cls, {"op": key, **_strict(fields)}, self.doc, where, self.problems, strict=True
        )
        if op is None or inputs is None or scope is None:
            return False
        return self.add(op, inputs, scope, where)

    def inputs(self, value: Any, where: Path) -> tuple[str, ...] | None:
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            path = (*where, "inputs") if value is not None else where
            self.fail(path, f"inputs: the names of the values the node reads, got {shown(value)}")
            return None
        ok = not set(value) & self.broken
        for j, name in enumerate(value):
            if name not in self.shapes and name not in self.broken:
                hint = suggest(name, self.shapes)
                self.fail((*where, "inputs", j), f"'{name}' is not computed before this node{hint}")
                ok = False
        return tuple(value) if ok else None

    def scope(self, value: Any, where: Path) -> tuple[str, ...] | None:
        pairs = isinstance(value, list) and len(value) % 2 == 0
        if not pairs or not all(isinstance(v, str) for v in value):
            self.fail(
                (*where, "scope"),
                "scope: pairs of an add and a branch (body or shortcut) or of a block's use and "
                f"the block, got {shown(value)}",
            )
            return None
        scope = tuple(value)
        if scope:
            self.scoped.append(((*where, "scope"), scope))
        return scope

    def add(self, op: ir.Op, inputs: tuple[str, ...], scope: tuple[str, ...], where: Path) -> bool:
        shapes = tuple(self.shapes[name] for name in inputs)
        try:
            node = GraphNode(op=op, inputs=inputs, input_shapes=shapes, scope=scope)
        except ValidationError:
            self.fail((*where, "scope"), f"scope: names of adds, got {shown(list(scope))}")
            return False
        try:
            check_arity(node)
        except ValueError as exc:
            self.fail((*where, "inputs"), str(exc))
            return False
        if op.name in self.shapes:
            self.fail((*where, "name"), f"a second value named '{op.name}'")
            return False
        try:
            expected = op.shape if isinstance(op, ir.Join) else op.infer_shape(shapes[0])
            params = sum(ir.size(w.shape) for w in op.weights(shapes[0]))
        except (ValueError, ZeroDivisionError):
            message = f"a {op.op} node cannot read a value of shape {build.fmt(shapes[0])}"
            self.fail((*where, "inputs"), message)
            return False
        if op.shape != expected:
            given = build.fmt(op.shape)
            self.fail(
                (*where, "shape"), f"declared {given} but its inputs give {build.fmt(expected)}"
            )
        if op.params != params:
            self.fail((*where, "params"), f"declared {op.params} params but inferred {params}")
        self.params += params
        if self.params > build.MAX_PARAMS:
            self.fail(where, f"the network has more than {build.MAX_PARAMS:,} parameters")
        self.shapes[op.name] = op.shape
        self.nodes.append(node)
        return True

    def check_uses(self, uses: list[BlockArguments | None]) -> None:
        """Each entry of ``uses`` is of a use the nodes' scopes have, once."""
        pairs = {use[-2:] for node in self.nodes for use in uses_of(node.scope)}
        seen: set[str] = set()
        for i, entry in enumerate(uses):
            if entry is None:
                continue
            if (entry.use, entry.block) not in pairs:
                message = f"'{entry.use}' is not a use of the block '{entry.block}' in the nodes"
                self.fail(("uses", i, "use"), message)
            elif entry.use in seen:
                self.fail(("uses", i, "use"), f"'{entry.use}' is listed twice")
            seen.add(entry.use)

    def check_scopes(self) -> None:
        joins = {node.name for node in self.nodes if isinstance(node.op, ir.Add)}
        for path, scope in self.scoped:
            added = branch_scope(scope)[::2]
            unknown = [n for n in added if n not in joins and n not in self.broken]
            used = [n for n in scope[::2] if n not in added and n in self.shapes]
            if unknown:
                self.fail(path, f"scope: '{unknown[0]}' is not an add of this graph")
            elif used:
                self.fail(
                    path,
                    f"scope: '{used[0]}' is a node of this graph: an add's name is followed by "
                    "body or shortcut, a block's use (a name no node has) by the block",
                )


def _use(
    item: dict[str, Any], doc: Document, path: Path, problems: list[Problem]
) -> BlockArguments | None:
    """An entry of ``uses``: its ``args`` mapping read as the IR's pairs."""
    args = item.get("args", {})
    data = {**item, "args": tuple(args.items()) if isinstance(args, dict) else args}
    return validate(BlockArguments, _strict(data), doc, path, problems, strict=True)


def _strict(value: Any) -> Any:
    """YAML data as strict validation reads it: lists as tuples, ``1e-5`` as a number."""
    if isinstance(value, list):
        return tuple(_strict(v) for v in value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    return m.number(value)
