"""Blocks: each residual of the canonical graph, and each use of a block of the spec language,
printed as one class, instantiated per use.

An *instance* is a top-level residual with the nodes lowered with it: the nodes of its branches,
its ``add``, and the top-level nodes named after it (``<residual>_...``) chained right before its
branches (a pre-activation block's ``pre_norm`` and ``pre_act``) or right after its add (a
post-activation block's ``out_act``); or the nodes of a top-level use of a block (scoped
``(use, block)``). It reads one value from outside, and no node outside it reads any of its
values but its last. Inside its class a node is named without the residual's or the use's
prefix (``conv1`` for ``residual_block_3_conv1``, ``gate`` for ``se1_gate``). A use of a block
inside another use is an instance of the outer class's nodes (:meth:`Instance.children`), a
class of its own that the outer class holds (``basic_1.gate_1.excite``).

Which instances share a class, and its parameters, is :mod:`normspec.backends.block_classes`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from normspec.ir import ops as ir
from normspec.ir.constraints import RESERVED_NAMES, is_identifier
from normspec.ir.nodes import INPUT, GraphNode, in_use, use_nodes

ADD = "add"
"""The name of an instance's own ``add`` inside its class."""


def _any(name: str) -> bool:
    return True


@dataclass(frozen=True)
class Instance:
    """One use of a block: its nodes (in graph order) and each one's name inside the class.
    A use of a block inside another one is an instance of the outer class's nodes, named as
    they are there (see :meth:`children`)."""

    name: str
    nodes: tuple[GraphNode, ...]
    local: Mapping[str, str]
    block: str | None = None
    """The block of the spec language it uses; None for a residual."""
    qualified: str = ""
    """Its name in the spec (``dense1_layer1`` for the use ``layer1`` inside ``dense1``)."""
    allowed: Callable[[str], bool] = field(default=_any, compare=False, repr=False)
    """Which names a layer of its class can take (see :func:`attribute_rule`)."""

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
        """Its nodes as the class holds them: named locally, reading the block's input (in a
        use of a block, as :func:`~normspec.ir.nodes.use_nodes` gives them)."""
        if self.block is not None:
            return use_nodes(self.nodes)
        names = {**self.local, self.source: INPUT}
        out = []
        for node in self.nodes:
            op = node.op.model_copy(update={"name": self.local[node.name]})
            inputs = tuple(names[name] for name in node.inputs)
            scope = tuple(names.get(part, part) for part in node.scope)
            out.append(node.model_copy(update={"op": op, "inputs": inputs, "scope": scope}))
        return tuple(out)

    def children(self, *, local: bool = True) -> list[Instance]:
        """The uses of blocks right inside this use (none in a residual): instances of its
        :meth:`local_nodes`, or with ``local=False`` of its nodes as the spec names them."""
        if self.block is None:
            return []
        if local:
            nodes = self.local_nodes()
        else:
            nodes = tuple(node.model_copy(update={"scope": node.scope[2:]}) for node in self.nodes)
        found = [
            i
            for i in _instances(nodes, self.allowed)
            if i.block is not None and self.allowed(i.name)
        ]
        if not local:
            return found
        return [replace(i, qualified=f"{self.qualified}_{i.name}") for i in found]


def instances(
    nodes: tuple[GraphNode, ...], allowed: Callable[[str], bool], *, head: bool = False
) -> list[Instance]:
    """The instances of ``nodes`` whose local names ``allowed`` accepts (a name a class
    attribute can take), but with ``head`` none holding the last node (the final activation a
    model's ``logits`` leaves out); a residual that is not one is printed inline."""
    found = _instances(nodes, allowed)
    return [i for i in found if i.last != nodes[-1].name] if head else found


def attribute_rule(
    reserved: frozenset[str], max_length: int | None = None
) -> Callable[[str], bool]:
    """Whether a layer of a block's class can be called ``name``: an identifier, no keyword,
    none of the framework module's attributes (``reserved``), at most ``max_length`` long."""

    def allowed(name: str) -> bool:
        return (
            is_identifier(name)
            and not keyword.iskeyword(name)
            and name not in reserved
            and name not in RESERVED_NAMES
            and (max_length is None or len(name) <= max_length)
        )

    return allowed


def camel(name: str) -> str:
    """``residual_block`` -> ``ResidualBlock``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def member_paths(instance: Instance) -> dict[str, str]:
    """Node name -> the path of its layer inside the instance's class: its local name, or
    ``<use>.<path>`` inside the class of a use of a block within it (``layer1.conv``)."""
    paths = {node.name: instance.local[node.name] for node in instance.nodes}
    spec_name = {local: name for name, local in instance.local.items()}
    for child in instance.children():
        for local, path in member_paths(child).items():
            paths[spec_name[local]] = f"{child.name}.{path}"
    return paths


def _instances(nodes: tuple[GraphNode, ...], allowed: Callable[[str], bool]) -> list[Instance]:
    readers: dict[str, set[str]] = {}
    for node in nodes:
        for name in node.inputs:
            readers.setdefault(name, set()).add(node.name)
    found: list[tuple[int, Instance | None]] = []
    for end, node in enumerate(nodes):
        if not isinstance(node.op, ir.Add) or node.scope:
            continue
        members = [i for i, n in enumerate(nodes) if n.scope[:1] == (node.name,)]
        if not members or members != list(range(members[0], end)):
            continue
        start, stop = _extent(nodes, node.name, members[0], end + 1)
        found.append((start, _instance(node.name, nodes[start:stop], readers, allowed)))
    uses: dict[tuple[str, ...], list[int]] = {}
    for i, node in enumerate(nodes):
        if in_use(node.scope):
            uses.setdefault(node.scope[:2], []).append(i)
    for (use, block), members in uses.items():
        members_of = nodes[members[0] : members[-1] + 1]
        found.append((members[0], _instance(use, members_of, readers, allowed, block)))
    return [instance for _, instance in sorted(found, key=lambda f: f[0]) if instance]


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
    name: str,
    members: tuple[GraphNode, ...],
    readers: Mapping[str, set[str]],
    allowed: Callable[[str], bool],
    block: str | None = None,
) -> Instance | None:
    names = {node.name for node in members}
    outside = {name for node in members for name in node.inputs} - names
    if outside != {members[0].inputs[0]}:
        return None
    if any(readers.get(node.name, set()) - names for node in members[:-1]):
        return None
    prefix = name + "_"
    local = {node.name: node.name.removeprefix(prefix) for node in members}
    if block is None:
        local[name] = ADD
    if len(set(local.values())) != len(local) or not all(map(allowed, local.values())):
        return None
    return Instance(name, members, local, block, name, allowed)


def class_base(instance: Instance) -> str:
    """``residual_block_3`` -> ``ResidualBlock``; a use of the block ``squeeze_excite`` ->
    ``SqueezeExcite``."""
    if instance.block is not None:
        return camel(instance.block)
    return camel(re.sub(r"_\d+$", "", instance.name))


def class_names(firsts: list[Instance], taken: set[str], limits: list[int]) -> list[str]:
    """A class name per class, given its first instance: ``...WithShortcut`` for the one of
    two with a shortcut, numbered if still taken; ``Residual<n>`` where that would be longer
    than the class's limit (so ``self.<attribute> = <Class>(`` fits a line)."""
    bases = [class_base(first) or "Residual" for first in firsts]
    out: list[str] = []
    for base, first, limit in zip(bases, firsts, limits, strict=True):
        twins = bases.count(base) > 1
        name = base + ("WithShortcut" if twins and first.shortcut else "")
        if len(name) + 3 > limit:
            name = "Residual"
        candidate, n = name, 2
        while candidate in taken or candidate in out or not candidate.isidentifier():
            candidate, n = f"{name}{n}", n + 1
        out.append(candidate)
    return out


def describe(instance: Instance) -> str:
    """``body conv1 > norm1 > act1 plus shortcut proj > proj_bn, then out_act`` (a residual
    nested in a branch is named as one step); for a use of a block, its steps: ``squeeze >
    reduce > gate > scale``."""
    if instance.block is not None:
        return _describe_use(instance)
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


def _describe_use(instance: Instance) -> str:
    """``residual_1 (a residual) > gate_1 (a use of gate) > ...``: its nodes outside residual
    branches, in order, a use of a block inside it as one step."""
    nodes = instance.local_nodes()
    nested = {part for node in nodes for part in node.branches[::2]}
    steps: list[str] = []
    for node in nodes:
        if in_use(node.scope):
            step = f"{node.scope[0]} (a use of {node.scope[1]})"
            if not steps or steps[-1] != step:  # a use's nodes come together
                steps.append(step)
        elif not node.branches:
            steps.append(f"{node.name} (a residual)" if node.name in nested else node.name)
    return " > ".join(steps)
