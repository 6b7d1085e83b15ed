"""The uses of blocks in the canonical form: a use is one ``block`` node where it stands, naming
the definition it is an instance of, and each distinct resolved sub-graph of a block is written
once, under ``blocks:``.

A definition holds the block, the arguments its uses give, and its nodes as the block names
them (``gate`` for ``se1_gate``, reading ``input`` for what the use reads; see
:func:`~normspec.ir.nodes.use_nodes`); a use inside it is a ``block`` node of its own. The
value of a use is read by the use's name, as in the spec language (``inputs: [se1]`` for the
value of ``se1``'s last node). Uses
whose nodes are the same but for the use's name (the same arguments on a value of the same
shape) share a definition, named after the block (``squeeze_excite``), numbered in the order
of first use where a block has several (``squeeze_excite.1``, ``squeeze_excite.2``). The
reader (:mod:`normspec.spec.graph_uses`) writes each use out again, to the same nodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from normspec.ir.nodes import GraphNode, in_use, use_nodes

if TYPE_CHECKING:
    from normspec.ir.graph import BlockArguments

BLOCK = "block"
"""The key of a use's node in the canonical form."""
SEPARATOR = "."
"""Between a block's name and the number of one of its definitions (no name has it)."""

Plain = Callable[[Any], Any]
NodeData = Callable[[GraphNode], dict[str, Any]]


@dataclass(frozen=True)
class _Use:
    """A use's node, written once its definition is named."""

    name: str
    source: str
    key: str
    shape: list[int]
    params: int


@dataclass
class _Definition:
    block: str
    args: dict[str, Any]
    items: list[dict[str, Any] | _Use]


class _Writer:
    def __init__(self, uses: tuple[BlockArguments, ...], node_data: NodeData, plain: Plain):
        self.args = {entry.use: entry for entry in uses}
        self.node_data, self.plain = node_data, plain
        self.found: dict[str, _Definition] = {}
        self.order: list[str] = []
        """The key of each use, in the order the uses begin."""

    def items(self, nodes: tuple[GraphNode, ...], prefix: str) -> list[dict[str, Any] | _Use]:
        """The items of ``nodes`` (one level: the top or a use's, named within it), each use
        among them one item; ``prefix`` turns a use's name there into its name in the spec."""
        out: list[dict[str, Any] | _Use] = []
        value_of: dict[str, str] = {}
        """The last node of each use before -> the use, whose name reads its value."""
        i = 0
        while i < len(nodes):
            scope = nodes[i].scope
            if not in_use(scope):
                inputs = tuple(value_of.get(name, name) for name in nodes[i].inputs)
                out.append(self.node_data(nodes[i].model_copy(update={"inputs": inputs})))
                i += 1
                continue
            end = i
            while end < len(nodes) and nodes[end].scope[:2] == scope[:2]:
                end += 1
            out.append(self.use(nodes[i:end], prefix, value_of))
            value_of[nodes[end - 1].name] = scope[0]
            i = end
        return out

    def use(self, members: tuple[GraphNode, ...], prefix: str, value_of: dict[str, str]) -> _Use:
        name = members[0].scope[0]
        inside = {node.name for node in members}
        source = next(n for node in members for n in node.inputs if n not in inside)
        source = value_of.get(source, source)
        slot = len(self.order)
        self.order.append("")
        entry = self.args[prefix + name]
        args = {key: self.plain(value) for key, value in entry.args}
        items = self.items(use_nodes(members), f"{prefix}{name}_")
        key = json.dumps(
            [entry.block, args, [_keyed(item) for item in items]], sort_keys=True, default=str
        )
        self.found.setdefault(key, _Definition(entry.block, args, items))
        self.order[slot] = key
        params = sum(node.op.params for node in members)
        return _Use(name, source, key, list(members[-1].shape), params)


def _keyed(item: dict[str, Any] | _Use) -> Any:
    return item if isinstance(item, dict) else [item.name, item.source, item.key]


def with_definitions(
    nodes: tuple[GraphNode, ...],
    uses: tuple[BlockArguments, ...],
    node_data: NodeData,
    plain: Plain,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The node items of the top level and the definitions by name (in the order of their
    first use); ``node_data`` writes a node, ``plain`` an argument's value."""
    writer = _Writer(uses, node_data, plain)
    top = writer.items(nodes, "")
    keys = list(dict.fromkeys(writer.order))
    names = _names(keys, writer.found)

    def written(item: dict[str, Any] | _Use) -> dict[str, Any]:
        if isinstance(item, dict):
            return item
        body = {"name": item.name, "inputs": [item.source], "definition": names[item.key]}
        return {BLOCK: {**body, "shape": item.shape, "params": item.params}}

    definitions = {
        names[key]: {
            BLOCK: writer.found[key].block,
            "args": writer.found[key].args,
            "nodes": [written(item) for item in writer.found[key].items],
        }
        for key in keys
    }
    return [written(item) for item in top], definitions


def _names(keys: list[str], found: dict[str, _Definition]) -> dict[str, str]:
    """``block`` for a block's one definition, ``block.1``, ``block.2`` ... for several."""
    blocks = [found[key].block for key in keys]
    names: dict[str, str] = {}
    for key, block in zip(keys, blocks, strict=True):
        count = blocks.count(block)
        number = sum(1 for k in names if found[k].block == block) + 1
        names[key] = block if count == 1 else f"{block}{SEPARATOR}{number}"
    return names
