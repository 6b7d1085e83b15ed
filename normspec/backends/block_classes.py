"""Block classes: the residuals a backend writes as one class each (see
:mod:`normspec.backends.blocks`), grouped into classes with parameters.

A backend prints every instance's nodes with a :class:`Recorder`, which keeps each statement as
values (:class:`~normspec.backends.codegen.Call`, numbers) instead of text. Instances whose
statements are the same but for numbers share one class (:class:`Template`): a number that
differs between them becomes a constructor parameter, one parameter per distinct sequence of
values across the instances (in a basic block without projection the convolutions' input and
output channels and the norms' features are one ``channels``), named after the argument it
fills. Everything else stays a literal in the class. :func:`block_classes` does it all for a
backend described by a :class:`ClassWriter`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from normspec.backends import blocks
from normspec.backends.blocks import Instance
from normspec.backends.codegen import INDENT, LINE_LENGTH, Call, Raw, call
from normspec.backends.names import Names
from normspec.backends.printing import BlockUse, Builder, Printers, Site, emit_nodes
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT

# --- recording what a printer writes ----------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement as values, laid out when the class is written."""

    prefix: str
    value: Any
    suffix: str


MARK = "\0"
"""Starts the placeholder line of a recorded statement."""


@dataclass
class Recorder(Builder):
    """A :class:`Builder` whose statements are kept as values: each line list holds a
    placeholder (``MARK`` and the statement's index) where a statement goes."""

    records: list[Statement] = field(default_factory=list)

    def statement(self, prefix: str, value: Any, suffix: str = "") -> list[str]:
        self.records.append(Statement(prefix, value, suffix))
        return [f"{MARK}{len(self.records) - 1}"]

    def statements(self, lines: list[str]) -> list[Statement | str]:
        """``lines`` with each placeholder replaced by its statement."""
        return [self.records[int(line[1:])] if line.startswith(MARK) else line for line in lines]


def lay_out(builder: Builder, items: Iterable[Statement | str]) -> list[str]:
    """The lines of ``items`` as ``builder`` lays statements out."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, Statement):
            lines += builder.statement(item.prefix, item.value, item.suffix)
        else:
            lines.append(item)
    return lines


def replace_raw(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with the text of every :class:`Raw` in it changed."""
    if isinstance(value, Raw):
        return Raw(change(value.text))
    if isinstance(value, Call):
        return Call(value.func, tuple((k, replace_raw(v, change)) for k, v in value.args))
    if isinstance(value, tuple | list):
        return type(value)(replace_raw(v, change) for v in value)
    return value


def raw_texts(value: Any) -> list[str]:
    """The text of every :class:`Raw` in ``value``."""
    found: list[str] = []

    def keep(text: str) -> str:
        found.append(text)
        return text

    replace_raw(value, keep)
    return found


# --- classes with parameters ------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_leaf(value: Any) -> bool:
    """A number or a string: what may differ between the instances of one class."""
    return _is_number(value) or isinstance(value, str)


@dataclass(frozen=True)
class Slot:
    """Where a number sits: the call it is an argument of, and the argument."""

    func: str
    key: str | None
    position: int


def _numbers(value: Any, where: Slot | None = None) -> Iterator[tuple[Slot | None, Any]]:
    """Every leaf (number or string) of ``value`` in order, with where it sits."""
    if _is_leaf(value):
        yield where, value
    elif isinstance(value, Call):
        position = 0
        for key, arg in value.args:
            yield from _numbers(arg, Slot(value.func, key, position))
            position += key is None
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _numbers(item, where)


def _substitute(value: Any, numbers: Iterator[Any]) -> Any:
    """``value`` with its leaves replaced, in order, by the next of ``numbers``."""
    if _is_leaf(value):
        return next(numbers)
    if isinstance(value, Call):
        return Call(value.func, tuple((k, _substitute(v, numbers)) for k, v in value.args))
    if isinstance(value, tuple | list):
        return type(value)(_substitute(v, numbers) for v in value)
    return value


def skeleton(items: Iterable[Statement | str], name: str | None = None) -> tuple[Any, ...]:
    """``items`` with every number masked, and every string naming the instance ``name`` (a
    layer name ``<name>_conv1`` where layers keep the spec's names): instances with equal
    skeletons share a class."""

    def masked(value: Any) -> Any:
        if _is_number(value):
            return Raw("#")
        if name is not None and isinstance(value, str) and _suffix(value, name) is not None:
            return Raw("#name" + value[len(name) :])
        return value

    def walk(value: Any) -> Any:
        return _substitute(value, (masked(leaf) for _, leaf in list(_numbers(value))))

    return tuple(
        Statement(i.prefix, walk(i.value), i.suffix) if isinstance(i, Statement) else i
        for i in items
    )


def _suffix(text: str, name: str) -> str | None:
    """``_conv1`` for ``<name>_conv1``, ``""`` for ``name`` itself, else None."""
    if text == name:
        return ""
    return text[len(name) :] if text.startswith(name + "_") else None


NAME = "name"
"""The parameter of a block function (Keras) that holds the instance's name."""


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: str
    values: tuple[Any, ...]
    """Its value in each instance, in the order of the template's instances."""


@dataclass(frozen=True)
class Template:
    """A class shared by instances: its statements (numbers that differ are parameters)."""

    instances: tuple[Instance, ...]
    statements: tuple[Statement | str, ...]
    parameters: tuple[Parameter, ...]
    named: bool = False
    """Whether its statements name layers after the instance (``f"{name}_conv1"``)."""

    def arguments(self, index: int) -> dict[str, Any]:
        """The constructor's arguments for the ``index``-th instance."""
        return {p.name: p.values[index] for p in self.parameters}


def parametrize(
    instances: tuple[Instance, ...],
    recorded: list[list[Statement | str]],
    positional: Callable[[str], tuple[str, ...]],
    reserved: frozenset[str],
    *,
    named: bool = False,
) -> Template:
    """One template for ``instances``, whose statements (``recorded``, one list per instance)
    have equal skeletons. ``positional`` names a call's positional parameters; a parameter
    takes none of ``reserved``. With ``named`` (layers keep the spec's names), a string that
    is each instance's name plus one suffix becomes ``f"{name}<suffix>"``."""
    slots = [slot for item in recorded[0] for slot, _ in _item_slots(item)]
    rows = [[n for item in items for _, n in _item_slots(item)] for items in recorded]
    columns = list(zip(*rows, strict=True))
    keys = [tuple((type(v).__name__, v) for v in column) for column in columns]
    groups: dict[tuple[Any, ...], list[str]] = {}
    replacements: list[Any] = []
    for slot, key, column in zip(slots, keys, columns, strict=True):
        suffixes = {
            _suffix(v, i.name) if isinstance(v, str) else None
            for v, i in zip(column, instances if named else (), strict=False)
        }
        if len(suffixes) == 1 and None not in suffixes:
            suffix = suffixes.pop()
            replacements.append(Raw(f'f"{{{NAME}}}{suffix}"' if suffix else NAME))
        elif len(set(key)) == 1:
            replacements.append(column[0])
        else:
            groups.setdefault(key, []).append(_slot_name(slot, positional))
            replacements.append(key)
    names = _unique([_choose(found) for found in groups.values()], reserved | {NAME})
    name_of = dict(zip(groups, names, strict=True))
    parameters = tuple(
        Parameter(name, _annotation(key), tuple(v for _, v in key)) for key, name in name_of.items()
    )
    leaves = iter(Raw(name_of[r]) if isinstance(r, tuple) else r for r in replacements)
    statements = tuple(
        Statement(i.prefix, _substitute(i.value, leaves), i.suffix)
        if isinstance(i, Statement)
        else i
        for i in recorded[0]
    )
    return Template(instances, statements, parameters, named)


def _annotation(key: tuple[tuple[str, Any], ...]) -> str:
    return "float" if any(kind == "float" for kind, _ in key) else "int"


def _item_slots(item: Statement | str) -> list[tuple[Slot | None, Any]]:
    return list(_numbers(item.value)) if isinstance(item, Statement) else []


def _slot_name(slot: Slot | None, positional: Callable[[str], tuple[str, ...]]) -> str:
    if slot is None:
        return "value"
    if slot.key is not None:
        return slot.key
    names = positional(slot.func)
    return names[slot.position] if slot.position < len(names) else "value"


_PREFERRED = ("channels", "features", "in_channels", "out_channels", "in_features", "out_features")


def _choose(names: list[str]) -> str:
    """A basic block's ``in_channels`` and ``out_channels`` that are one parameter are
    ``channels``; otherwise the preferred name, else the first."""
    for stem in ("channels", "features"):
        if {f"in_{stem}", f"out_{stem}"} <= set(names):
            return stem
    for name in _PREFERRED:
        if name in names:
            return name
    return names[0]


def _unique(names: list[str], reserved: frozenset[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in out or candidate in reserved:
            candidate, n = f"{name}_{n}", n + 1
        out.append(candidate)
    return out


# --- a backend's classes ------------------------------------------------------------------------


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
    templates = [
        parametrize(
            tuple(instances[i] for i in members),
            [class_items(recorders[i]) for i in members],
            writer.positional,
            writer.reserved,
            named=not writer.local,
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
    emit_nodes(rec, instance.nodes, writer.printers, variables=values,
               quiet=frozenset({instance.name}))  # fmt: skip
    builder.layer_of.update(rec.layer_of)
    return rec


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
    """The class's docstring, wrapped at one indent: which residuals use it, what it computes."""
    users = ", ".join(i.name for i in template.instances)
    text = f"The block of {users}: {blocks.describe(template.instances[0])}."
    lines = textwrap.wrap(
        text, LINE_LENGTH - 3, initial_indent=INDENT + '"""', subsequent_indent=INDENT
    )
    if len(lines[-1]) + 3 <= LINE_LENGTH:
        return [*lines[:-1], lines[-1] + '"""']
    return [*lines, INDENT + '"""']
