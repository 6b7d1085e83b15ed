"""Canonical spec -> plain data: the canonical YAML/JSON form (format version 2, read back by
:mod:`normspec.spec.graph_form`), and the version-1 form whose hash older weight files record."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from normspec.ir import ops as ir
from normspec.ir.definitions import with_definitions
from normspec.ir.nodes import BRANCHES, INPUT, residual_names
from normspec.ir.yaml_dumpers import DUMPER

if TYPE_CHECKING:
    from normspec.ir.graph import CanonicalSpec
    from normspec.ir.nodes import GraphNode


INPUT_NORM_OPS = (ir.Standardize, ir.Rescale)
_TRAILING = ("shape", "params")


def op_to_data(op: ir.Op) -> dict[str, Any]:
    """``{op_key: {name, ...fields, shape, params}}``."""
    body: dict[str, Any] = {"name": op.name}
    for field in _body_fields(type(op)):
        value = getattr(op, field)
        if value is not None:
            body[field] = _plain(value)
    body["shape"] = list(op.shape)
    body["params"] = op.params
    return {op.op: body}


def is_chain(nodes: tuple[GraphNode, ...]) -> bool:
    """Whether ``nodes`` are what lowering a chain of layers with residuals gives: each node
    reads the value before it in its branch (the residual's input for a branch's first node),
    and each add is a residual's, reading the ends of its body and shortcut."""
    current: dict[tuple[str, ...], str] = {(): INPUT}
    residuals = residual_names(nodes)
    for node in nodes:
        scope = node.scope
        if scope != node.branches:  # version 1 had no blocks
            return False
        for i in range(2, len(scope) + 1, 2):
            current.setdefault(scope[:i], current[scope[: i - 2]])
        if isinstance(node.op, ir.Add):
            ends = [current.get((*scope, node.name, b), current[scope]) for b in BRANCHES]
            if node.name not in residuals or list(node.inputs) != ends:
                return False
        elif node.inputs != (current[scope],):
            return False
        current[scope] = node.name
    return True


def nested_layers(nodes: tuple[GraphNode, ...]) -> list[Any]:
    """The layers of format version 1 made of ``nodes``: each residual (the nodes scoped in it,
    then its ``add``) nested where its first node is, as ``{residual: {name, body, shortcut,
    shape, params}}``, its params the total of its branches'."""
    top: list[Any] = []
    lists: dict[tuple[str, ...], list[Any]] = {(): top}
    residuals: dict[str, dict[str, Any]] = {}
    for node in nodes:
        for i in range(0, len(node.scope), 2):
            _open(node.scope[i], node.scope[:i], lists, residuals)
        for name in node.scope[::2]:
            residuals[name]["params"] += node.op.params
        if isinstance(node.op, ir.Add):
            _open(node.name, node.scope, lists, residuals)["shape"] = list(node.shape)
        else:
            lists[node.scope].append(op_to_data(node.op))
    return top


def _open(
    name: str,
    parent: tuple[str, ...],
    lists: dict[tuple[str, ...], list[Any]],
    residuals: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The version-1 residual ``name`` within ``parent``, added there when first seen."""
    if name not in residuals:
        body: dict[str, Any] = {"name": name, "body": [], "shortcut": [], "shape": [], "params": 0}
        residuals[name] = body
        lists[parent].append({"residual": body})
        lists[(*parent, name, "body")] = body["body"]
        lists[(*parent, name, "shortcut")] = body["shortcut"]
    return residuals[name]


@cache
def _body_fields(cls: type[ir.Op]) -> tuple[str, ...]:
    """The fields of ``cls`` written between its name and its trailing shape and params."""
    return tuple(f for f in cls.model_fields if f not in ("op", "name", *_TRAILING))


def input_norm_to_data(op: ir.Op) -> dict[str, Any]:
    data = op_to_data(op)[op.op]
    del data["shape"], data["params"]
    return {"kind": op.op, **data}


def _plain(value: Any) -> Any:
    if isinstance(value, ir.Node):
        return {k: _plain(v) for k, v in value.model_dump().items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def to_data(spec: CanonicalSpec, *, definitions: bool = True) -> dict[str, Any]:
    """The canonical spec as plain data (format version 2), in a fixed key order: the
    definitions of its uses of blocks (:mod:`normspec.ir.definitions`), then its nodes in order,
    each ``{op_key: {name, inputs, scope (when inside a residual), ...fields, shape, params}}``,
    a use one ``block`` node. Without ``definitions`` every node is written out, each use's
    arguments under ``uses:``."""
    data: dict[str, Any] = {
        "normspec": spec.normspec,
        "name": spec.name,
        "input": {"shape": list(spec.input.shape), "dtype": spec.input.dtype},
    }
    if spec.uses and definitions:
        nodes, data["blocks"] = with_definitions(spec.nodes, spec.uses, node_to_data, _plain)
        data["nodes"] = nodes
        return _tail(spec, data)
    data["nodes"] = [node_to_data(node) for node in spec.nodes]
    if spec.uses:
        data["uses"] = [
            {"use": u.use, "block": u.block, "args": {k: _plain(v) for k, v in u.args}}
            for u in spec.uses
        ]
    return _tail(spec, data)


def node_to_data(node: GraphNode) -> dict[str, Any]:
    """``{op_key: {name, inputs, scope, ...fields, shape, params}}`` (no scope at the top)."""
    op = op_to_data(node.op)
    body = op[node.op.op]
    wiring: dict[str, Any] = {"inputs": list(node.inputs)}
    if node.scope:
        wiring["scope"] = list(node.scope)
    return {node.op.op: {"name": body.pop("name"), **wiring, **body}}


def to_data_v1(spec: CanonicalSpec) -> dict[str, Any] | None:
    """The canonical spec as plain data in format version 1: input normalization under
    ``input``, the other nodes as a chain of layers with each residual nested
    (:func:`nested_layers`); None for a graph version 1 cannot write (a join of its own, a value
    read out of turn). Weight files record the hash of this form for models saved before
    version 2."""
    nodes = spec.nodes
    if not is_chain(nodes):
        return None
    normalize: dict[str, Any] = {"kind": "none"}
    if nodes and isinstance(nodes[0].op, INPUT_NORM_OPS):
        normalize = input_norm_to_data(nodes[0].op)
        nodes = nodes[1:]
    data: dict[str, Any] = {
        "normspec": 1,
        "name": spec.name,
        "input": {
            "shape": list(spec.input.shape),
            "dtype": spec.input.dtype,
            "normalize": normalize,
        },
        "layers": nested_layers(nodes),
    }
    return _tail(spec, data)


def _tail(spec: CanonicalSpec, data: dict[str, Any]) -> dict[str, Any]:
    if spec.output != type(spec.output)():  # the default is left out
        data["output"] = _plain(spec.output)
    data["train"] = _plain(spec.train)
    return data


def data_hash(data: dict[str, Any]) -> str:
    """``sha256:<hex>`` of ``data``'s compact JSON text with sorted keys."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def to_yaml(spec: CanonicalSpec, dumper: type[Any] = DUMPER) -> str:
    """The canonical YAML text of ``spec``, headed by a comment with its name and hash."""
    header = f"# normspec canonical form of '{spec.name}' ({spec.hash})\n"
    body = yaml.dump(to_data(spec), Dumper=dumper, sort_keys=False, width=100)
    return header + body
