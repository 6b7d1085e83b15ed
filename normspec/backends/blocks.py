"""Blocks: each residual of the canonical graph printed as one class, instantiated per use.

An *instance* is a top-level residual with the nodes lowered with it: the nodes of its branches,
its ``add``, and the top-level nodes named after it (``<residual>_...``) chained right before its
branches (a pre-activation block's ``pre_norm`` and ``pre_act``) or right after its add (a
post-activation block's ``out_act``). It reads one value from outside, and no node outside it
reads any of its values but its last. Inside its class a node is named without the residual's
prefix (``conv1`` for ``residual_block_3_conv1``).

A backend prints every instance's nodes with a :class:`Recorder`, which keeps each statement as
values (:class:`~normspec.backends.codegen.Call`, numbers) instead of text. Instances whose
statements are the same but for numbers share one class (:class:`Template`): a number that
differs between them becomes a constructor parameter, one parameter per distinct sequence of
values across the instances (in a basic block without projection the convolutions' input and
output channels and the norms' features are one ``channels``), named after the argument it
fills. Everything else stays a literal in the class.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from normspec.backends.codegen import Call, Raw
from normspec.backends.printing import Builder
from normspec.ir import ops as ir
from normspec.ir.nodes import INPUT, GraphNode

ADD = "add"
"""The name of an instance's own ``add`` inside its class."""


@dataclass(frozen=True)
class Instance:
    """One use of a block: its nodes (in graph order) and each one's name inside the class."""

    name: str
    nodes: tuple[GraphNode, ...]
    local: Mapping[str, str]

    @property
    def source(self) -> str:
        """The value it reads."""
        return self.nodes[0].inputs[0]

    @property
    def last(self) -> str:
        return self.nodes[-1].name

    @property
    def shortcut(self) -> bool:
        return any(node.scope[1:2] == ("shortcut",) for node in self.nodes)

    def local_nodes(self) -> tuple[GraphNode, ...]:
        """Its nodes as the class holds them: named locally, reading the block's input."""
        names = {**self.local, self.source: INPUT}
        out = []
        for node in self.nodes:
            op = node.op.model_copy(update={"name": self.local[node.name]})
            inputs = tuple(names[name] for name in node.inputs)
            scope = tuple(names.get(part, part) for part in node.scope)
            out.append(node.model_copy(update={"op": op, "inputs": inputs, "scope": scope}))
        return tuple(out)


def instances(nodes: tuple[GraphNode, ...], allowed: Callable[[str], bool]) -> list[Instance]:
    """The instances of ``nodes`` whose local names ``allowed`` accepts (a name a class
    attribute can take); a residual that is not one is printed inline."""
    readers: dict[str, set[str]] = {}
    for node in nodes:
        for name in node.inputs:
            readers.setdefault(name, set()).add(node.name)
    found = []
    for end, node in enumerate(nodes):
        if not isinstance(node.op, ir.Add) or node.scope:
            continue
        members = [i for i, n in enumerate(nodes) if n.scope[:1] == (node.name,)]
        if not members or members != list(range(members[0], end)):
            continue
        start, stop = _extent(nodes, node.name, members[0], end + 1)
        instance = _instance(node.name, nodes[start:stop], readers, allowed)
        if instance is not None:
            found.append(instance)
    return found


def _extent(nodes: tuple[GraphNode, ...], residual: str, start: int, stop: int) -> tuple[int, int]:
    """Widen ``[start, stop)`` by the top-level nodes named after ``residual`` that chain into
    its branches before and out of its add after."""
    prefix = residual + "_"
    while start > 0:
        before = nodes[start - 1]
        if before.scope or not before.name.startswith(prefix) or len(before.inputs) != 1:
            break
        start -= 1
    while stop < len(nodes):
        after = nodes[stop]
        chained = after.inputs == (nodes[stop - 1].name,)
        if after.scope or not after.name.startswith(prefix) or not chained:
            break
        stop += 1
    return start, stop


def _instance(
    residual: str,
    members: tuple[GraphNode, ...],
    readers: Mapping[str, set[str]],
    allowed: Callable[[str], bool],
) -> Instance | None:
    names = {node.name for node in members}
    outside = {name for node in members for name in node.inputs} - names
    if outside != {members[0].inputs[0]}:
        return None
    if any(readers.get(node.name, set()) - names for node in members[:-1]):
        return None
    prefix = residual + "_"
    local = {node.name: node.name.removeprefix(prefix) for node in members}
    local[residual] = ADD
    if len(set(local.values())) != len(local) or not all(map(allowed, local.values())):
        return None
    return Instance(residual, members, local)


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


@dataclass(frozen=True)
class Slot:
    """Where a number sits: the call it is an argument of, and the argument."""

    func: str
    key: str | None
    position: int


def _numbers(value: Any, where: Slot | None = None) -> Iterator[tuple[Slot | None, Any]]:
    if _is_number(value):
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
    """``value`` with its numbers replaced, in order, by the next of ``numbers``."""
    if _is_number(value):
        return next(numbers)
    if isinstance(value, Call):
        return Call(value.func, tuple((k, _substitute(v, numbers)) for k, v in value.args))
    if isinstance(value, tuple | list):
        return type(value)(_substitute(v, numbers) for v in value)
    return value


def skeleton(items: Iterable[Statement | str]) -> tuple[Any, ...]:
    """``items`` with every number masked: instances with equal skeletons share a class."""
    return tuple(
        Statement(i.prefix, _substitute(i.value, itertools.repeat(Raw("#"))), i.suffix)
        if isinstance(i, Statement)
        else i
        for i in items
    )


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

    def arguments(self, index: int) -> dict[str, Any]:
        """The constructor's arguments for the ``index``-th instance."""
        return {p.name: p.values[index] for p in self.parameters}


def parametrize(
    instances: tuple[Instance, ...],
    recorded: list[list[Statement | str]],
    positional: Callable[[str], tuple[str, ...]],
    reserved: frozenset[str],
) -> Template:
    """One template for ``instances``, whose statements (``recorded``, one list per instance)
    have equal skeletons. ``positional`` names a call's positional parameters; a parameter
    takes none of ``reserved``."""
    slots = [slot for item in recorded[0] for slot, _ in _item_slots(item)]
    rows = [[n for item in items for _, n in _item_slots(item)] for items in recorded]
    columns = list(zip(*rows, strict=True))
    keys = [tuple((type(v).__name__, v) for v in column) for column in columns]
    groups: dict[tuple[Any, ...], list[str]] = {}
    for slot, key in zip(slots, keys, strict=True):
        if len(set(key)) > 1:
            groups.setdefault(key, []).append(_slot_name(slot, positional))
    names = _unique([_choose(found) for found in groups.values()], reserved)
    name_of = dict(zip(groups, names, strict=True))
    parameters = tuple(
        Parameter(name, _annotation(key), tuple(v for _, v in key)) for key, name in name_of.items()
    )
    numbers = iter(
        Raw(name_of[key]) if key in name_of else column[0]
        for key, column in zip(keys, columns, strict=True)
    )
    statements = tuple(
        Statement(i.prefix, _substitute(i.value, numbers), i.suffix)
        if isinstance(i, Statement)
        else i
        for i in recorded[0]
    )
    return Template(instances, statements, parameters)


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


def class_base(instance: Instance) -> str:
    """``residual_block_3`` -> ``ResidualBlock``."""
    stem = re.sub(r"_\d+$", "", instance.name)
    return "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part)


def class_names(templates: list[Template], taken: set[str]) -> list[str]:
    """A class name per template: after its first instance, ``...WithShortcut`` for the one of
    two with a shortcut, numbered if still taken."""
    bases = [class_base(t.instances[0]) or "Block" for t in templates]
    out: list[str] = []
    for base, template in zip(bases, templates, strict=True):
        twins = bases.count(base) > 1
        name = base + ("WithShortcut" if twins and template.instances[0].shortcut else "")
        candidate, n = name, 2
        while candidate in taken or candidate in out or not candidate.isidentifier():
            candidate, n = f"{name}{n}", n + 1
        out.append(candidate)
    return out


def describe(instance: Instance) -> str:
    """``body conv1 > norm1 > act1 plus shortcut proj > proj_bn, then out_act`` (a residual
    nested in a branch is named as one step)."""
    parts: dict[str, list[str]] = {"before": [], "body": [], "shortcut": [], "after": []}
    nested = {part for node in instance.nodes for part in node.scope[2::2]}
    seen_add = False
    for node in instance.nodes:
        local = instance.local[node.name]
        if node.name == instance.name:
            seen_add = True
        elif len(node.scope) > 2:
            continue
        elif node.scope:
            step = f"{local} (a residual)" if node.name in nested else local
            parts[node.scope[1]].append(step)
        else:
            parts["after" if seen_add else "before"].append(local)
    text = " > ".join(parts["before"])
    text += (", then " if text else "") + "body " + " > ".join(parts["body"] or ["(identity)"])
    text += " plus " + (
        "shortcut " + " > ".join(parts["shortcut"]) if parts["shortcut"] else "the input"
    )
    if parts["after"]:
        text += ", then " + " > ".join(parts["after"])
    return text
