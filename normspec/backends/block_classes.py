"""Block classes: the residuals a backend writes as one class each (see
:mod:`normspec.backends.blocks`), grouped into classes with parameters.

A backend prints every instance's nodes with a :class:`~normspec.backends.recording.Recorder`;
instances whose statements are the same but for numbers share one class
(:mod:`normspec.backends.templates`). :func:`block_classes` does it all for a backend described
by a :class:`ClassWriter`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from normspec.backends import blocks
from normspec.backends.blocks import Instance
from normspec.backends.codegen import INDENT, LINE_LENGTH, Call, Raw, call
from normspec.backends.names import Names
from normspec.backends.printing import (
    KEPT_INPUT,
    BlockUse,
    Builder,
    Printers,
    Site,
    emit_nodes,
    kept_values,
)
from normspec.backends.recording import MARK, Recorder, Statement, lay_out, raw_texts, replace_raw
from normspec.backends.templates import Template, parametrize, skeleton
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT


def _attribute(site: Site, instance: Instance, layer: Call) -> None:
    """``self.<residual> = <Class>(...)`` in ``__init__``, called in the forward pass."""
    site.layer(instance.name, layer)


@dataclass(frozen=True)
class ClassWriter:
    """What a backend gives :func:`block_classes`: its printers, the positional parameters of
    the calls it writes, the names a parameter cannot take, the arguments every instance gets
    besides the template's (``dtype=dtype``), the source of a class, and how an instance is
    used (by default an attribute of the model).

    With ``local`` (PyTorch, Flax) a class names its layers without the residual's prefix
    and its forward pass must be the same for all its instances; without it (Keras' block
    functions) layers keep the spec's names, written ``f"{name}_conv1"``, and numbers of the
    forward pass may be parameters too."""

    printers: Printers
    positional: Callable[[str], tuple[str, ...]]
    reserved: frozenset[str]
    arguments: Callable[[Template], dict[str, Any]]
    source: Callable[[Builder, Template, str], str]
    instantiate: Callable[[Site, Instance, Call], None] = _attribute
    local: bool = True


@dataclass
class Blocks:
    """The block classes of a spec: each class's source (a block used inside another before
    it), its name, the call of each instance (in the order of the instances), and the helpers
    the classes use."""

    sources: list[str]
    uses: list[BlockUse]
    helpers: set[str]
    classes: list[str]


def block_classes(
    spec: CanonicalSpec,
    instances: list[Instance],
    builder: Builder,
    writer: ClassWriter,
    taken: set[str],
    limit: Callable[[Instance], int] | None = None,
) -> Blocks:
    """The classes of ``instances``; ``builder`` is the model's, which the uses print into;
    class names avoid ``taken`` and are at most ``limit`` long for each instance (by default,
    so that ``self.<attribute> = <Class>(`` fits a line). The uses of blocks inside an
    instance are instances of classes of their own, written first, which its class calls.
    Each instance's ``reset_parameters`` statements (PyTorch's initialization) go to those of
    the class that calls it, on its attribute."""
    children = [instance.children(local=writer.local) for instance in instances]
    inner = [child for found in children for child in found]
    nested = block_classes(spec, inner, builder, writer, taken, limit) if inner else None
    recorders, start = [], 0
    for instance, found in zip(instances, children, strict=True):
        calls = nested.uses[start : start + len(found)] if nested else []
        recorders.append(_record(spec, builder, writer, instance, found, calls))
        start += len(found)
    groups: dict[str, list[int]] = {}
    for index, (rec, instance) in enumerate(zip(recorders, instances, strict=True)):
        groups.setdefault(repr(_key(rec, instance, writer.local)), []).append(index)
    given = {entry.use: dict(entry.args) for entry in spec.uses}
    templates = [
        parametrize(
            tuple(instances[i] for i in members),
            [class_items(recorders[i]) for i in members],
            writer.positional,
            writer.reserved,
            named=not writer.local,
            given=[given[instances[i].qualified] for i in members]
            if all(instances[i].qualified in given for i in members)
            else (),
        )
        for members in groups.values()
    ]
    limit = limit or (lambda i: LINE_LENGTH - len(INDENT * 2 + "self. = (" + i.name))
    limits = [min(limit(i) for i in t.instances) for t in templates]
    taken = taken | set(nested.classes if nested else ())
    names = blocks.class_names([t.instances[0] for t in templates], taken, limits)
    uses: dict[int, BlockUse] = {}
    for template, name, members in zip(templates, names, groups.values(), strict=True):
        extra = writer.arguments(template)
        for k, index in enumerate(members):
            layer = call(name, **template.arguments(k), **extra)
            uses[index] = _use(writer, instances[index], layer, recorders[index])
    sources = [writer.source(builder, t, n) for t, n in zip(templates, names, strict=True)]
    for rec in recorders:  # conventions the module docstring explains
        builder.notes.update(rec.notes)
    used = {h for rec in recorders for h in rec.helpers}
    inside = nested or Blocks([], [], set(), [])
    return Blocks(
        [*inside.sources, *sources],
        [uses[i] for i in range(len(instances))],
        used | inside.helpers,
        [*inside.classes, *names],
    )


def _record(
    spec: CanonicalSpec,
    builder: Builder,
    writer: ClassWriter,
    instance: Instance,
    children: list[Instance],
    calls: list[BlockUse],
) -> Recorder:
    """The statements of ``instance``'s class; the uses of blocks inside it (``children``)
    are one call each (``calls``)."""
    if writer.local:
        nodes = instance.local_nodes()
        names = Names.local([*(node.name for node in nodes), *(c.name for c in children)])
        rec = Recorder(spec, builder.dialect, names)
        emit_nodes(rec, nodes, writer.printers, blocks=calls, quiet=frozenset({blocks.ADD}))
        return rec
    return _record_named(spec, builder, writer, instance, calls)


def _record_named(
    spec: CanonicalSpec,
    builder: Builder,
    writer: ClassWriter,
    instance: Instance,
    calls: list[BlockUse],
) -> Recorder:
    """The statements of a block function whose layers keep the spec's names (Keras): its
    variables, and the residuals its comments name, are named without the instance's name."""
    rec = Recorder(spec, builder.dialect, builder.names)  # extra layers take unused names
    values = {INPUT: "x", instance.source: "x"}
    source = instance.source
    reading = tuple(  # as the spec names them, but reading the block's input as the input
        node.model_copy(update={"inputs": tuple(INPUT if n == source else n for n in node.inputs)})
        for node in instance.nodes
    )
    if INPUT in kept_values(reading, calls):  # read again after x is overwritten
        rec.forward_lines += rec.statement(f"{KEPT_INPUT} = ", Raw("x"))
        values[source] = KEPT_INPUT
    emit_nodes(rec, instance.nodes, writer.printers, variables=values, blocks=calls,
               quiet=frozenset({instance.name}))  # fmt: skip
    local = _without(instance.name)
    rec.records[:] = [_local_variables(s, local) for s in rec.records]
    rec.forward_lines[:] = [
        line if line.startswith(MARK) else local(line) for line in rec.forward_lines
    ]
    builder.layer_of.update(rec.layer_of)
    return rec


def _without(name: str) -> Callable[[str], str]:
    """What changes a text to name what is named after the instance ``name`` without it: its
    variables (``multiply_1_gate`` for ``se1_multiply_1_gate``) and, in comments, its residuals
    (``residual_1`` for ``basic_1_residual_1``), as a class's layers are named."""
    pattern = re.compile(rf"\b{re.escape(name)}_(?=\w)")
    return lambda text: pattern.sub("", text)


def _local_variables(statement: Statement, local: Callable[[str], str]) -> Statement:
    """``statement`` with its variables named by ``local``; the layer names, which are strings,
    keep the instance's name."""
    value = replace_raw(statement.value, local)
    return Statement(local(statement.prefix), value, local(statement.suffix))


SPLIT = ""
"""Between a template's ``__init__`` statements and those of its forward pass."""


def class_items(rec: Recorder) -> list[Statement | str]:
    return [*rec.statements(rec.init_lines), SPLIT, *rec.statements(rec.forward_lines)]


def _key(rec: Recorder, instance: Instance, local: bool) -> tuple[object, ...]:
    """Instances with equal keys share a class: equal ``__init__`` but for numbers, and an
    equal forward pass (but for numbers and the instance's name, in a block function)."""
    init, forward = rec.statements(rec.init_lines), rec.statements(rec.forward_lines)
    if local:
        return skeleton(init), tuple(forward)
    return skeleton(init, instance.name), skeleton(forward, instance.name)


def _use(writer: ClassWriter, instance: Instance, layer: Call, rec: Recorder) -> BlockUse:
    def write(site: Site) -> None:
        writer.instantiate(site, instance, layer)
        builder = site.builder
        attribute = builder.names.short[instance.name]

        def nested(text: str) -> str:
            return f"self.{attribute}." + text.removeprefix("self.")

        resets = [
            Statement(s.prefix, replace_raw(s.value, nested), s.suffix)
            if isinstance(s, Statement)
            else s
            for s in rec.statements(rec.reset_lines)
        ]
        builder.reset_lines += lay_out(builder, resets)

    return BlockUse(tuple(node.name for node in instance.nodes), write)


def sections(template: Template) -> tuple[list[Statement | str], list[Statement | str]]:
    """A template's ``__init__`` statements and those of its forward pass."""
    split = template.statements.index(SPLIT)
    return list(template.statements[:split]), list(template.statements[split + 1 :])


def uses_raw(template: Template, text: str) -> bool:
    """Whether ``text`` (``dtype``, ``rngs``) is an argument of a call of its ``__init__``."""
    return any(
        text in raw_texts(item.value)
        for item in sections(template)[0]
        if isinstance(item, Statement)
    )


def class_docstring(template: Template) -> list[str]:
    """The class's docstring, wrapped at one indent: which residuals or uses of a block of
    the spec use it, what it computes."""
    first = template.instances[0]
    users = ", ".join(i.qualified for i in template.instances)
    what = f"The block of {users}" if first.block is None else f"The block {first.block} of {users}"
    text = f"{what}: {blocks.describe(first)}."
    lines = textwrap.wrap(
        text, LINE_LENGTH - 3, initial_indent=INDENT + '"""', subsequent_indent=INDENT
    )
    if len(lines[-1]) + 3 <= LINE_LENGTH:
        return [*lines[:-1], lines[-1] + '"""']
    return [*lines, INDENT + '"""']
