"""Spec -> canonical IR: shorthands expanded, defaults written out, shapes inferred."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Any

from normspec.errors import Path, Problem, SpecError, shown
from normspec.ir import ops as ir
from normspec.ir.graph import (
    FORMAT_VERSION,
    BlockArguments,
    CanonicalSpec,
    InputSpec,
    OutputSpec,
)
from normspec.ir.nodes import GraphNode
from normspec.ir.output_checks import logits_head, logits_problem
from normspec.loader import Document, load_yaml, read_source
from normspec.spec import blocks, hints
from normspec.spec import models as m
from normspec.spec import ops_builder as build
from normspec.spec.branches import Lowered
from normspec.spec.graph_form import read_graph
from normspec.spec.head import HeadNote, head_index, steps
from normspec.spec.layer_items import Entry, ItemReader, repaired
from normspec.spec.lowering_table import LOWER
from normspec.spec.norms import as_norm_spec, resolve_activation, resolve_norm
from normspec.spec.ops_builder import ShapeError
from normspec.spec.train_section import train_spec
from normspec.spec.validate import validate
from normspec.spec.wiring import JOINS, Value, Wiring

Shape = tuple[int, ...]
MAX_OPS = 5_000
"""Most primitive ops a spec may expand to: the canonical form of 5,000 convolutions is about
150,000 YAML nodes and 2.4 MB, still a spec the loader reads."""
_MAIN_TOKENS = {"layer", "dense", "conv"}
_NESTED = {"residual"}
"""Kinds whose options hold layer lists: an invalid one is not lowered (its lists are
checked on their own)."""


class Canonicalizer:
    """One pass over a parsed document; collects every problem instead of stopping at one."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.used: set[str] = set()
        self.counters: dict[str, int] = {}
        self.defaults = m.Defaults()
        self.explicit: set[str] = set()
        self.input_shape: Shape = ()
        self.head: Path | None = None
        self.head_note: HeadNote | None = None
        self.items = ItemReader(doc, self.problems)
        self.wiring = Wiring(doc, self.problems, set())
        self.lowered_name: str | None = None
        """The name of the layer lowered last."""
        self.blocks: dict[str, blocks.Definition] = {}
        self.within = ""
        """``<use>_`` inside a use of a block: what the names of its ops begin with."""
        self.uses: list[BlockArguments] = []
        """The arguments of every use of a block lowered, in graph order."""
        self.used_blocks: set[str] = set()
        self.expanding: list[str] = []
        """The blocks being lowered, outermost first."""
        self.branch_depth = 0
        """How many residual branches the layer being lowered is inside."""

    # --- entry point ---------------------------------------------------------------------------

    def run(self) -> CanonicalSpec:
        data = self.doc.data
        if not isinstance(data, dict):
            raise SpecError([self.doc.problem((), "a spec is a mapping with input and layers")])
        header = validate(m.SpecHeader, data, self.doc, (), self.problems)
        layers_data = data.get("layers")
        if not isinstance(layers_data, list):
            layers_data = None
        section = header.input if header else self.recover_input(data)
        defaults = header.defaults if header else self.recover(m.Defaults, data.get("defaults"))
        self.defaults = defaults or m.Defaults()
        self.explicit = set(_explicit_names(layers_data or []))
        self.blocks = blocks.definitions(data.get("blocks"), self.doc, self.problems)
        self.items.blocks = set(self.blocks)
        self.wiring.later = set(self.explicit)
        index = head_index(layers_data or [])
        self.head = None if index is None else ("layers", index)
        shape: Shape | None = tuple(section.shape) if section else None
        self.input_shape = shape or ()
        if shape is not None:
            shape = self.check_input_size(shape)
        wiring = self.wiring
        wiring.start(self.input_norm(header.input) if header is not None else [], shape)
        if layers_data:
            self.top_level(layers_data)
            wiring.check_reached()
            self.check_blocks_used()
        self.check_total_params(wiring.nodes)
        if self.problems or self.doc.problems or header is None:
            raise SpecError(blocks.once(self.doc.problems + self.unrelated_to_reading()))
        ops = [node.op for node in wiring.nodes]
        spec = CanonicalSpec(
            name=header.name,
            input=InputSpec(shape=tuple(header.input.shape), dtype=header.input.dtype),
            nodes=tuple(wiring.nodes),
            uses=tuple(self.uses),
            train=train_spec(header.train, ops),
        )
        if not header.output.logits:
            return spec
        output = OutputSpec(logits=True)
        problem = logits_problem(spec.model_copy(update={"output": output}))
        if problem is not None:
            raise SpecError([self.doc.problem(("output", "logits"), problem)])
        spec = spec.model_copy(update={"output": output})
        head = logits_head(spec)
        if self.head_note is not None and head is not None:
            self.head_note = dataclasses.replace(self.head_note, logits=head.function)
        return spec

    def check_input_size(self, shape: Shape) -> Shape | None:
        try:
            build.check_size(shape)
        except ShapeError as exc:
            self.fail(("input", "shape"), str(exc).replace("output", "input", 1))
            return None
        return shape

    def check_channels_first(self) -> None:
        """Once: say so at the input shape when it looks channels-first."""
        hint = build.channels_first_hint(self.input_shape)
        if hint is not None:
            self.fail(("input", "shape"), hint)
            self.input_shape = ()

    def check_blocks_used(self) -> None:
        """Every block is used (once the rest is sound: a use refused uses nothing)."""
        if self.problems:
            return
        for name, block in self.blocks.items():
            if name not in self.used_blocks:
                self.problems.append(
                    self.doc.problem(
                        block.at,
                        f"the block {name} is never used: use it in layers (- {name}: ...), or "
                        "remove it",
                        key=True,
                    )
                )

    def check_total_params(self, nodes: list[GraphNode]) -> None:
        count = len(nodes)
        if count > MAX_OPS:
            self.fail(
                ("layers",),
                f"the network has {count:,} ops after expansion; normspec handles at most "
                f"{MAX_OPS:,} (so that its canonical form stays within the loader's limits)",
            )
        total = sum(node.op.params for node in nodes)
        if total > build.MAX_PARAMS:
            self.fail(
                ("layers",),
                f"the network has {total:,} parameters, more than normspec allows "
                f"({build.MAX_PARAMS:,})",
            )

    def recover(self, model: type[Any], data: Any) -> Any:
        """A section validated on its own, so one bad section doesn't hide the layers' problems
        (its own problems are already reported through the whole-spec validation)."""
        return validate(model, data if data is not None else {}, self.doc, (), [])

    def recover_input(self, data: dict[Any, Any]) -> m.InputSection | None:
        """The input section, or one made of a top-level ``input_shape`` (reported as such)."""
        if "input" not in data:
            written = next((v for k, v in data.items() if hints.is_input_shape(k)), None)
            return self.recover(m.InputSection, {"shape": written})
        return self.recover(m.InputSection, data.get("input"))

    def unrelated_to_reading(self) -> list[Problem]:
        """Validation problems, minus the echoes of nodes the loader already rejected."""
        bad = [p.path for p in self.doc.problems]
        return [p for p in self.problems if not any(p.path[: len(b)] == b for b in bad)]

    # --- names and problems --------------------------------------------------------------------

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def claim(self, name: str, path: Path) -> str:
        """Take ``name`` for an op: given by the user at ``path`` (``...name``) or derived
        from the layer at ``path`` (``conv2d_1_bn``); a second use is a problem."""
        if name in self.used:
            given = bool(path) and path[-1] == "name"
            self.fail(
                path,
                f"duplicate layer name '{name}'"
                if given
                else f"this layer names one of its ops '{name}', which another layer already "
                "has; rename one of them",
            )
        self.used.add(name)
        return name

    def auto_name(self, base: str) -> str:
        """``<base>_<n>``, skipping names taken, given explicitly, or whose derived names
        (``conv2d_1_bn`` of ``conv2d_1``) a layer was given explicitly."""
        while True:
            self.counters[base] = self.counters.get(base, 0) + 1
            name = f"{base}_{self.counters[base]}"
            if name in self.used or name in self.explicit or self._derived_taken(name):
                continue
            self.used.add(name)
            return name

    def _derived_taken(self, name: str) -> bool:
        start = name + "_"
        return any(e.startswith(start) for e in self.explicit)

    # --- layer lists ---------------------------------------------------------------------------

    def top_level(self, items: list[Any]) -> None:
        """The layers of the top-level list, each reading the values :mod:`wiring` gives."""
        self.wired(items, ("layers",), self.wiring)

    def wired(self, items: list[Any], path: Path, wiring: Wiring) -> None:
        """The layers of ``items`` (the top-level list's, or a block's at ``path``), each
        reading the values ``wiring`` gives and known to it by its name in the list."""
        for i, item in enumerate(items):
            entry = self.items.read(item, (*path, i))
            if entry is None:
                wiring.done(None, None, None, (*path, i))
                continue
            own = _given_name(entry.body)
            sources = wiring.sources(entry.body, entry.kind, entry.at, own)
            source = None
            if sources is not None and entry.kind not in JOINS:
                source = wiring.check_one(sources, entry.kind, entry.at)
            elif sources is not None:
                shape = wiring.check_join(sources, entry.kind, entry.at)
                source = Value(sources[0].node, shape, ()) if shape is not None else None
            if entry.block:
                self.use_block(entry, source, wiring)
                continue
            self.lowered_name = self.within + own if own else None
            lowered, out = self.layer(entry, source.shape if source else None, "")
            local = (self.lowered_name or self.auto_name(self.within + entry.kind)).removeprefix(
                self.within
            )
            if source is None or out is None:  # later reads of it are not reported again
                wiring.done(local, None, None, entry.where)
            elif sources is not None and lowered and isinstance(lowered[0], ir.Join):
                wiring.done(local, wiring.join(lowered[0], sources), out, entry.where)
            else:
                wiring.done(local, wiring.append(lowered, source), out, entry.where)

    def use_block(self, entry: Entry, source: Value | None, wiring: Wiring) -> None:
        """The layers of the block ``entry`` uses, named after the use and reading
        ``source``; its value is its last layer's (:mod:`normspec.spec.blocks`)."""
        block = self.blocks[entry.kind]
        self.used_blocks.add(entry.kind)
        own = _given_name(entry.body)
        at = (*entry.at, "name")
        mark = len(self.problems)
        name = (
            self.claim(self.within + own, at) if own else self.auto_name(self.within + entry.kind)
        )
        local = name.removeprefix(self.within)
        args = None
        if block.sound and len(self.problems) == mark:
            args = blocks.arguments(block, entry.body, entry.at, self.doc, self.problems)
        if args is not None and entry.kind in self.expanding:
            chain = " > ".join([*self.expanding[self.expanding.index(entry.kind) :], entry.kind])
            self.fail(entry.at, f"the block {entry.kind} uses itself ({chain})")
            args = None
        if args is None or source is None or source.shape is None:
            wiring.done(local, None, None, entry.where)
            return
        inner = wiring.inside(source, _explicit_names(block.layers), name, entry.kind)
        self.uses.append(blocks.recorded(name, entry.kind, args))  # outer uses first
        use = blocks.Use(block, entry.at, args, self.doc)
        mark, within = len(self.problems), self.within
        self.within = name + "_"
        self.expanding.append(entry.kind)
        try:
            self.wired(blocks.substitute(block.layers, args), (*block.at, "layers"), inner)
            inner.check_reached(since=mark)
        finally:
            self.within = within
            self.expanding.pop()
        self.problems[mark:] = [use.told(p) for p in self.problems[mark:]]
        last = inner.current
        wiring.done(local, last.node, last.shape, entry.where)

    def layers(
        self, items: list[Any], path: Path, shape: Shape | None, prefix: str
    ) -> tuple[list[Lowered], Shape | None]:
        ops: list[Lowered] = []
        self.branch_depth += 1
        try:
            for i, item in enumerate(items):
                entry = self.items.read(item, (*path, i))
                if entry is not None and entry.block:
                    self.fail(entry.at, _BLOCK_IN_BRANCH)
                    entry = None
                new, shape = self.layer(entry, shape, prefix) if entry else ([], None)
                ops.extend(new)
        finally:
            self.branch_depth -= 1
        return ops, shape

    def layer(
        self, entry: Entry, shape: Shape | None, prefix: str
    ) -> tuple[list[Lowered], Shape | None]:
        """The ops of one layer item and the shape after it (None: unknown from here on). A
        layer read from a mistake, or valid once its unknown keys are renamed, carries the
        shape on but reports nothing more."""
        kind, body, at = entry.kind, entry.body, entry.at
        model, shorthand = m.LAYER_KINDS[kind]
        if body is None:
            body = {}
        elif not isinstance(body, dict):
            if shorthand is None:
                self.fail(at, f"{kind} takes a mapping of options, not {shown(body)}")
                return [], None
            body = {shorthand: body}
        layer = validate(model, body, self.doc, at, self.problems)
        quiet = entry.guessed
        if layer is None:
            self.check_sublayers(body, at, shape, prefix)
            layer = None if kind in _NESTED else repaired(model, body)
            quiet = True
        if layer is None or shape is None:
            return [], None
        if not quiet:
            return self.lower(kind, layer, shape, entry.where, prefix)
        mark = len(self.problems)
        ops, shape = self.lower(kind, layer, shape, entry.where, prefix)
        del self.problems[mark:]
        return ops, shape

    def lower(
        self, kind: str, layer: Any, shape: Shape, where: Path, prefix: str
    ) -> tuple[list[Lowered], Shape | None]:
        given = self.claim(self.within + layer.name, (*where, "name")) if layer.name else None
        name = given or self.auto_name((prefix or self.within) + kind)
        self.lowered_name = name
        if self.branch_depth and (layer.inputs is not None or kind in JOINS):
            what = kind if kind in JOINS else "inputs"
            self.fail(
                where if kind in JOINS else (*where, "inputs"),
                f"{what}: only layers of the top-level list read other layers by name",
            )
            return [], None
        try:
            new = LOWER[kind](self, layer, name, shape, where)
        except ShapeError as exc:
            field = (exc.field,) if exc.field else ()
            self.fail((*where, *field), str(exc))
            if exc.spatial:
                self.check_channels_first()
            return [], exc.recovered
        if where[:-1] == self.head:
            self.note_head(layer, new, where)
        return new, self.check_declared(layer, kind, new, shape, where)

    def check_sublayers(self, body: Any, where: Path, shape: Shape | None, prefix: str) -> None:
        """Report the problems of a residual's layer lists even when the residual itself is
        invalid (its ops are dropped)."""
        for key in ("body", "shortcut"):
            items = body.get(key) if isinstance(body, dict) else None
            if isinstance(items, list):
                self.layers(items, (*where, key), shape, prefix)

    def check_declared(
        self, layer: m.LayerBase, kind: str, ops: Sequence[Lowered], shape: Shape, where: Path
    ) -> Shape:
        out = ops[-1].shape if ops else shape
        if layer.shape is not None and kind != "reshape" and tuple(layer.shape) != out:
            self.fail(
                (*where, "shape"),
                f"declared shape {shown(layer.shape)} but inferred {build.fmt(out)}",
            )
        total = sum(op.params for op in ops)
        if layer.params is not None and layer.params != total:
            self.fail((*where, "params"), f"declared {layer.params} params but inferred {total}")
        return out

    # --- pieces shared by several layer kinds --------------------------------------------------

    def activation(
        self, value: m.ActivationField | None, where: Path, sub: Path = ("activation",)
    ) -> m.ActivationSpec | None:
        spec, problems = resolve_activation(value, self.defaults.activation)
        for field, message in problems:
            self.fail((*where, *sub, field), message)
        return spec

    def norm(self, value: m.NormField | None, where: Path) -> Any:
        """The norm of the layer at ``where``: its own merged over ``defaults.norm``, except
        that the head (see :mod:`normspec.spec.head`) has none unless it says so."""
        if value is None and where[:-1] == self.head:
            value = "none"
        resolved, problems = resolve_norm(value, self.defaults.norm)
        for field, message in problems:
            self.fail((*where, "norm", field), message)
        return resolved

    def note_head(self, layer: m.LayerBase, ops: Sequence[Lowered], where: Path) -> None:
        said = getattr(layer, "norm", None)
        self.head_note = HeadNote(
            path=where,
            name=ops[0].name if ops else "",
            steps=steps(ops),
            norm=as_norm_spec(said).kind if said is not None else "none",
            said=said is not None,
            default_norm=as_norm_spec(self.defaults.norm).kind,
        )

    def input_norm(self, section: m.InputSection) -> list[ir.Op]:
        spec = section.normalize
        if isinstance(spec, str):
            spec = m.NormalizeSpec(kind=spec)
        if spec.kind == "none":
            return []
        channels = section.shape[-1]
        name = self.claim(spec.name or "input_norm", ("input", "normalize", "name"))
        shape = tuple(section.shape)
        where: Path = ("input", "normalize")
        if spec.kind == "rescale":
            if spec.scale is None:
                self.fail(where, "rescale needs 'scale' (for example 0.00392156862745098)")
            return [
                ir.Rescale(
                    name=name, shape=shape, scale=spec.scale or 1.0, offset=spec.offset or 0.0
                )
            ]
        given = spec.mean is not None or spec.std is not None
        adapt = spec.adapt if spec.adapt is not None else (spec.kind == "standardize" and not given)
        if not adapt and (spec.mean is None or spec.std is None):
            self.fail(where, f"{spec.kind} without adapt needs both 'mean' and 'std'")
        mean = self.per_channel(spec.mean, 0.0, channels, (*where, "mean"))
        std = self.per_channel(spec.std, 1.0, channels, (*where, "std"))
        eps = spec.epsilon if spec.epsilon is not None else 1e-7
        return [
            ir.Standardize(
                name=name,
                shape=shape,
                params=2 * channels,
                adapt=adapt,
                mean=mean,
                std=std,
                epsilon=eps,
            )
        ]

    def per_channel(
        self, value: float | list[float] | None, fill: float, channels: int, path: Path
    ) -> tuple[float, ...]:
        if value is None:
            return (fill,) * channels
        if isinstance(value, int | float):
            return (float(value),) * channels
        if len(value) != channels:
            self.fail(path, f"expected {channels} values (one per channel), got {len(value)}")
        return tuple(float(v) for v in value)


_BLOCK_IN_BRANCH = (
    "a block is used in the top-level list or in another block's layers, not in a residual's "
    "branch (a block may hold the residual instead)"
)


def _given_name(body: Any) -> str | None:
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _explicit_names(items: list[Any]) -> list[str]:
    names = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            body = next(iter(item.values()))
            if isinstance(body, dict):
                if isinstance(body.get("name"), str):
                    names.append(body["name"])
                for key in ("body", "shortcut"):
                    if isinstance(body.get(key), list):
                        names.extend(_explicit_names(body[key]))
    return names


def canonicalize(doc: Document) -> CanonicalSpec:
    """Canonical IR of a parsed document; raises :class:`SpecError` listing every problem."""
    return canonicalize_with_head(doc)[0]


def canonicalize_with_head(doc: Document) -> tuple[CanonicalSpec, HeadNote | None]:
    """:func:`canonicalize`, with what the network's head got (None when it has none)."""
    from normspec.spec import lowering  # noqa: F401  (registers the LOWER table)

    if isinstance(doc.data, dict) and doc.data.get("normspec") == FORMAT_VERSION:
        return read_graph(doc, MAX_OPS), None
    canonicalizer = Canonicalizer(doc)
    spec = canonicalizer.run()
    return spec, canonicalizer.head_note


def load_with_head(spec: str | FilePath) -> tuple[CanonicalSpec, HeadNote | None]:
    """:func:`normspec.load` of a path or YAML text, with what the network's head got."""
    text, source = read_source(spec)
    return canonicalize_with_head(load_yaml(text, source))
