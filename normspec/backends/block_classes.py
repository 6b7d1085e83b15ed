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
from normspec.backends.recording import Recorder, Statement, lay_out, raw_texts, replace_raw
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
    """The block classes of a spec: each class's source, the call of each instance, and the
    helpers the classes use."""

    sources: list[str]
    uses: list[BlockUse]
    helpers: set[str]


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
    so that ``self.<attribute> = <Class>(`` fits a line). Each instance's
    ``reset_parameters`` statements (PyTorch's initialization) go to the model's, on the
    block's attribute."""
    recorders = [_record(spec, builder, writer, instance) for instance in instances]
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
            given=[given[instances[i].name] for i in members]
            if all(instances[i].name in given for i in members)
            else (),
        )
        for members in groups.values()
    ]
    limit = limit or (lambda i: LINE_LENGTH - len(INDENT * 2 + "self. = (" + i.name))
    limits = [min(limit(i) for i in t.instances) for t in templates]
    names = blocks.class_names([t.instances[0] for t in templates], taken, limits)
    uses: list[BlockUse] = []
    for template, name in zip(templates, names, strict=True):
        extra = writer.arguments(template)
        for k, instance in enumerate(template.instances):
            layer = call(name, **template.arguments(k), **extra)
            rec = recorders[instances.index(instance)]
            uses.append(_use(builder, writer, instance, layer, rec))
    sources = [writer.source(builder, t, n) for t, n in zip(templates, names, strict=True)]
    for rec in recorders:  # conventions the module docstring explains
        builder.notes.update(rec.notes)
    used = {h for rec in recorders for h in rec.helpers}
    return Blocks(sources, uses, used)


def _record(
    spec: CanonicalSpec, builder: Builder, writer: ClassWriter, instance: Instance
) -> Recorder:
    if writer.local:
        nodes = instance.local_nodes()
        rec = Recorder(spec, builder.dialect, Names.local(node.name for node in nodes))
        emit_nodes(rec, nodes, writer.printers, quiet=frozenset({blocks.ADD}))
        return rec
    rec = Recorder(spec, builder.dialect, builder.names)  # extra layers take unused names
    values = {INPUT: "x", instance.source: "x"}
    if INPUT in kept_values(instance.local_nodes()):  # read again after x is overwritten
        rec.forward_lines += rec.statement(f"{KEPT_INPUT} = ", Raw("x"))
        values[instance.source] = KEPT_INPUT
    emit_nodes(rec, instance.nodes, writer.printers, variables=values,
               quiet=frozenset({instance.name}))  # fmt: skip
    rec.records[:] = [_local_variables(s, instance.name) for s in rec.records]
    builder.layer_of.update(rec.layer_of)
    return rec


def _local_variables(statement: Statement, name: str) -> Statement:
    """``statement`` with the variables named after the instance ``name`` named without it
    (``multiply_1_gate`` for ``se1_multiply_1_gate``), as a class's layers are; the layer
    names, which are strings, keep it."""
    pattern = re.compile(rf"\b{re.escape(name)}_(?=\w)")

    def local(text: str) -> str:
        return pattern.sub("", text)

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


def _use(
    builder: Builder, writer: ClassWriter, instance: Instance, layer: Call, rec: Recorder
) -> BlockUse:
    def write(site: Site) -> None:
        writer.instantiate(site, instance, layer)
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
    users = ", ".join(i.name for i in template.instances)
    what = f"The block of {users}" if first.block is None else f"The block {first.block} of {users}"
    text = f"{what}: {blocks.describe(first)}."
    lines = textwrap.wrap(
        text, LINE_LENGTH - 3, initial_indent=INDENT + '"""', subsequent_indent=INDENT
    )
    if len(lines[-1]) + 3 <= LINE_LENGTH:
        return [*lines[:-1], lines[-1] + '"""']
    return [*lines, INDENT + '"""']
