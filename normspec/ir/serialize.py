"""Canonical spec <-> plain data (the canonical YAML/JSON form, itself a valid spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from normspec.ir import ops as ir

if TYPE_CHECKING:
    from normspec.ir.graph import CanonicalSpec

INPUT_NORM_OPS = (ir.Standardize, ir.Rescale)
_TRAILING = ("shape", "params")


def op_to_data(op: ir.Op) -> dict[str, Any]:
    """``{op_key: {name, ...fields, shape, params}}`` with residual children nested."""
    body: dict[str, Any] = {"name": op.name}
    for field in type(op).model_fields:
        if field in ("op", "name", *_TRAILING):
            continue
        value = getattr(op, field)
        if value is None:
            continue
        if isinstance(op, ir.Residual) and field in ("body", "shortcut"):
            body[field] = [op_to_data(child) for child in value]
        else:
            body[field] = _plain(value)
    body["shape"] = list(op.shape)
    body["params"] = op.params
    return {op.op: body}


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


def to_data(spec: CanonicalSpec) -> dict[str, Any]:
    """The canonical spec as plain data, in a fixed key order."""
    layers = list(spec.layers)
    normalize: dict[str, Any] = {"kind": "none"}
    if layers and isinstance(layers[0], INPUT_NORM_OPS):
        normalize = input_norm_to_data(layers.pop(0))
    return {
        "normspec": spec.normspec,
        "name": spec.name,
        "input": {
            "shape": list(spec.input.shape),
            "dtype": spec.input.dtype,
            "normalize": normalize,
        },
        "layers": [op_to_data(op) for op in layers],
        "train": _plain(spec.train),
    }


class _Dumper(yaml.SafeDumper):
    """Block style for mappings, flow style for short lists of scalars."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict) for v in data) and all(
        not isinstance(v, list) or all(not isinstance(w, list | dict) for w in v) for v in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def to_yaml(spec: CanonicalSpec) -> str:
    header = f"# normspec canonical form of '{spec.name}' ({spec.hash})\n"
    body = yaml.dump(to_data(spec), Dumper=_Dumper, sort_keys=False, width=100)
    return header + body
