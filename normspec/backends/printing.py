"""What every backend's printer shares: the table of printers keyed by IR op class
(:class:`Printers`), the model being written (:class:`Builder`), where one op is printed
(:class:`Site`) and the walk that prints the nodes of the graph view (:func:`emit_nodes`).

A backend differs only in its :class:`Dialect`: how deep its forward pass is indented, how
statements are laid out, whether layers are attributes built in ``__init__`` (PyTorch, Flax) or
built where they are applied (Keras' functional API), what a layer constructor gets besides
its options (Keras: ``name=`` and ``dtype=``) and how a top-level output is recorded for
capture (Flax: ``self.sow``).
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from normspec.backends import codegen
from normspec.backends.codegen import INDENT, LINE_LENGTH, Call, Raw, call
from normspec.backends.names import Names
from normspec.backends.weight_maps import WeightMap, WeightMaps
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT, GraphNode, with_openings
from normspec.ir.ops import Shape
from normspec.ir.registry import Registry

Emitter = Callable[[Any, "Site"], None]
"""``(op, site) -> None``: prints one op at its site."""

E = TypeVar("E", bound=Emitter)


Printed = type[ir.Op]
"""What a printer is registered for: an op class of the IR, or a join of the graph view."""

Opening = Callable[["Builder", str, bool], None]
"""``(builder, residual, has_shortcut) -> None``: what a backend writes where a residual's
nodes begin (a comment saying what it adds)."""


def _nothing(builder: Builder, residual: str, has_shortcut: bool) -> None:
    return None


class Printers:
    """A backend's printer of every node kind (IR op class or join) and, for ops with weights,
    where the layers it writes hold them (see :mod:`normspec.backends.weight_maps`); a
    duplicate raises. ``opening`` is what the backend writes where a residual begins."""

    def __init__(self, backend: str) -> None:
        self.emitters: Registry[Printed, Emitter] = Registry(f"{backend} emitter")
        self.weight_maps: WeightMaps = Registry(f"{backend} weight map")
        self.opening: Opening = _nothing

    def register(self, *classes: Printed, weights: WeightMap | None = None) -> Callable[[E], E]:
        """Register the decorated function as the printer of ``classes`` (and its weight map)."""
        if weights is not None:
            for cls in classes:
                assert issubclass(cls, ir.Op), cls
                self.weight_maps.add(cls, weights)
        return self.emitters.decorator(*classes)

    def opens(self, opening: Opening) -> Opening:
        """Register what the backend writes where a residual's nodes begin."""
        self.opening = opening
        return opening


def _itself(name: str) -> Iterable[str]:
    return (name,)


@dataclass(frozen=True)
class Dialect:
    """How one backend writes a model (see the module docstring)."""

    depth: int
    """Indentation of the forward pass's statements (2 in a method, 1 in a function)."""
    pack: bool
    """Statement layout (see :func:`normspec.backends.codegen.statement`)."""
    branches: Mapping[str, str]
    """The variable of each residual branch (``body``, ``shortcut``) at depth 1; deeper ones
    are numbered with their depth (``out2``)."""
    attributes: bool
    """Layers are attributes set in ``__init__`` and called in the forward pass."""
    requirements: Callable[[str], Iterable[str]] = _itself
    """A helper -> the helpers the module must define for it (itself included)."""
    constructor: Callable[[Builder, str, Call], Call] | None = None
    """``(builder, name, layer) -> layer``: what a layer constructor gets besides its options."""
    capture: Callable[[str, str], Call] | None = None
    """``(name, variable) -> call``: the statement recording a top-level op's output."""


@dataclass
class Builder:
    """The model being written: the lines of ``__init__``, of ``reset_parameters`` and of the
    forward pass, and what the module must define around them."""

    spec: CanonicalSpec
    dialect: Dialect
    names: Names
    init_lines: list[str] = field(default_factory=list)
    reset_lines: list[str] = field(default_factory=list)
    forward_lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)
    """Conventions the module docstring should explain (``padding``, ``batch_norm``, ...)."""
    last_layer: str = ""
    """The name of the layer written last."""
    layer_of: dict[str, str] = field(default_factory=dict)
    """Op name -> the layer written last for it, which holds its output (Keras)."""

    @property
    def float64(self) -> bool:
        return self.spec.input.dtype == "float64"

    def helper(self, name: str) -> str:
        """Use a definition of the backend's helpers (and those it requires); returns its name."""
        self.helpers.update(self.dialect.requirements(name))
        return name

    def statement(self, prefix: str, value: Any, suffix: str = "") -> list[str]:
        """The lines of one statement of a method (or of Keras' builder function)."""
        return codegen.statement(prefix, value, suffix, self.dialect.depth, pack=self.dialect.pack)

    def comment(self, text: str, init: str | None = None) -> None:
        """A comment in the forward pass (and, given ``init``, one in ``__init__``), wrapped to
        the line length."""
        pad = INDENT * self.dialect.depth + "# "
        pairs = [(self.forward_lines, text)] + ([(self.init_lines, init)] if init else [])
        for lines, words in pairs:
            lines += textwrap.wrap(words, LINE_LENGTH, initial_indent=pad, subsequent_indent=pad)


@dataclass
class Site:
    """Where one op is printed: it reads the variable ``src`` and assigns its result to ``dst``;
    ``input_shape`` is the shape that enters it, ``depth`` its residual nesting (0 at the top
    level, which picks the names of branch variables). The op's output is recorded under
    ``capture`` when the dialect captures outputs."""

    builder: Builder
    src: str
    dst: str
    input_shape: Shape
    depth: int
    capture: str | None = None
    inputs: tuple[str, ...] = ()
    """The variables of every value the node reads (a join reads two or more; ``src`` is the
    first)."""
    input_shapes: tuple[Shape, ...] = ()
    """The shape of each (canonical, channels-last)."""

    @property
    def x(self) -> Raw:
        """The op's input variable."""
        return Raw(self.src)

    def helper(self, name: str) -> str:
        return self.builder.helper(name)

    def layer(self, name: str, layer: Call, inputs: str | None = None) -> None:
        """The layer ``name`` applied to ``inputs`` (by default ``src``): ``self.<attribute> =
        layer`` in ``__init__`` and ``dst = self.<attribute>(src)`` in the forward pass, or
        ``dst = layer(src)`` where layers are built in place."""
        b = self.builder
        if b.dialect.constructor is not None:
            layer = b.dialect.constructor(b, name, layer)
        b.last_layer = name
        if not b.dialect.attributes:
            self.result(layer, f"({inputs or self.src})")
            return
        attribute = b.names.short[name]
        b.init_lines += b.statement(f"self.{attribute} = ", layer)
        self.result(call(f"self.{attribute}", Raw(inputs or self.src)))

    def result(self, value: Any, suffix: str = "") -> None:
        """``dst = value + suffix``, the op's output; what follows reads ``dst``."""
        b = self.builder
        b.forward_lines += b.statement(f"{self.dst} = ", value, suffix)
        if self.capture is not None and b.dialect.capture is not None:
            b.forward_lines += b.statement("", b.dialect.capture(self.capture, self.dst))
        self.src = self.dst


@dataclass(frozen=True)
class BlockUse:
    """Nodes printed as one call of a block's class (:mod:`normspec.backends.blocks`): its
    ``members`` in order (the first reads the block's input, the last holds its output), and
    ``write``, which prints the call at the site of the last. The class captures its nodes'
    outputs itself."""

    members: tuple[str, ...]
    write: Callable[[Site], None]


def emit_nodes(
    builder: Builder,
    nodes: tuple[GraphNode, ...],
    printers: Printers,
    *,
    src: str = "x",
    dst: str = "x",
    variables: dict[str, str] | None = None,
    blocks: Iterable[BlockUse] = (),
    quiet: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Print ``nodes`` (see :mod:`normspec.ir.nodes`) in order. The spec's input is in the
    variable ``src`` and top-level values go to ``dst`` (``x = f(x)``); the nodes of a
    residual's branch write that branch's variable, and its ``add`` the variable of the scope
    around it. ``printers.opening`` is written where a residual's nodes begin. Every node's
    output is captured under its attribute name (where the dialect captures), and the layer
    holding it is recorded in ``builder.layer_of``. The nodes of each of ``blocks`` are one
    call of its class instead; no opening is written for the residuals in ``quiet``. Returns
    the variable of every value by name (``variables``, if given, is updated: a second call
    goes on from the first)."""
    values = {INPUT: src} if variables is None else variables
    blocks = tuple(blocks)
    kept = kept_values(nodes, blocks)
    if INPUT in kept and src == dst and variables is None:
        builder.forward_lines += builder.statement(f"{KEPT_INPUT} = ", Raw(src))
        values[INPUT] = KEPT_INPUT
    shortcuts = {node.branches[-2] for node in nodes if node.branches[-1:] == ("shortcut",)}
    uses = {use.members[0]: use for use in blocks}
    hidden = {name for use in uses.values() for name in use.members}
    by_name = {node.name: node for node in nodes}
    for residuals, node in with_openings(nodes, set(values)):
        if node.name in uses:
            _emit_block(builder, uses[node.name], by_name, values, kept, dst)
        if node.name in hidden:
            continue
        for residual in residuals:
            if residual not in quiet:
                printers.opening(builder, residual, residual in shortcuts)
        inputs = tuple(values[name] for name in node.inputs)
        variable = _variable(node.branches, dst, builder.dialect.branches)
        if node.name in kept:
            variable = f"{builder.names.short[node.name]}_out"
        capture = builder.names.short[node.name]
        site = Site(builder, inputs[0], variable, node.input_shape, node.depth, capture, inputs)
        site.input_shapes = node.input_shapes
        printers.emitters[type(node.op)](node.op, site)
        builder.layer_of[node.name] = builder.last_layer
        values[node.name] = site.src
    return values


def _emit_block(
    builder: Builder,
    use: BlockUse,
    nodes: Mapping[str, GraphNode],
    values: dict[str, str],
    kept: set[str],
    dst: str,
) -> None:
    first, last = nodes[use.members[0]], use.members[-1]
    variable = f"{builder.names.short[last]}_out" if last in kept else dst
    source = values[first.inputs[0]]
    site = Site(builder, source, variable, first.input_shape, 0, None, (source,))
    site.input_shapes = first.input_shapes[:1]
    use.write(site)
    values[last] = site.src


KEPT_INPUT = "inputs"
"""The variable holding the spec's input when a node other than the first reads it."""


def kept_values(nodes: tuple[GraphNode, ...], blocks: Iterable[BlockUse] = ()) -> set[str]:
    """The top-level values (and the input) a later node reads besides the next top-level node
    and the branches of that node (a residual reads its input in its branches and its add):
    each is kept in its own variable (``<name>_out``), since the next one overwrites ``x``.
    The nodes of each of ``blocks`` are one call, reading the block's input."""
    firsts = {use.members[0]: use for use in blocks}
    hidden = {name for use in blocks for name in use.members}
    steps: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    for node in nodes:
        if node.name in firsts:
            steps.append((firsts[node.name].members[-1], node.inputs[:1], ()))
        elif node.name not in hidden:
            steps.append((node.name, node.inputs, node.branches))
    top = [INPUT, *(name for name, _, branches in steps if not branches)]
    following = dict(itertools.pairwise(top))
    kept = set()
    for name, inputs, branches in steps:
        for value in inputs:
            after = following.get(value)
            if after is not None and name != after and branches[:1] != (after,):
                kept.add(value)
    return kept


def _variable(scope: tuple[str, ...], top: str, branches: Mapping[str, str]) -> str:
    """The variable a node in the branches ``scope`` writes: ``top`` at the top level, else
    its branch's."""
    if not scope:
        return top
    depth = len(scope) // 2
    return branches[scope[-1]] + ("" if depth == 1 else str(depth))
