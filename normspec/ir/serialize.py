"""Canonical spec <-> plain data (the canonical YAML/JSON form, itself a valid spec)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from normspec.ir import ops as ir
from normspec.ir.yaml_dumpers import DUMPER

if TYPE_CHECKING:
    from normspec.ir.graph import CanonicalSpec

INPUT_NORM_OPS = (ir.Standardize, ir.Rescale)
_TRAILING = ("shape", "params")


def op_to_data(op: ir.Op) -> dict[str, Any]:
    """``{op_key: {name, ...fields, shape, params}}`` with residual children nested."""
    body: dict[str, Any] = {"name": op.name}
    for field in _body_fields(type(op)):
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


def to_data(spec: CanonicalSpec) -> dict[str, Any]:
    """The canonical spec as plain data, in a fixed key order."""
    layers = list(spec.layers)
    normalize: dict[str, Any] = {"kind": "none"}
    if layers and isinstance(layers[0], INPUT_NORM_OPS):
        normalize = input_norm_to_data(layers.pop(0))
    data: dict[str, Any] = {
        "normspec": spec.normspec,
        "name": spec.name,
        "input": {
            "shape": list(spec.input.shape),
            "dtype": spec.input.dtype,
            "normalize": normalize,
        },
        "layers": [op_to_data(op) for op in layers],
    }
    if spec.output != type(spec.output)():  # the default is left out: hashes stay as they were
        data["output"] = _plain(spec.output)
    data["train"] = _plain(spec.train)
    return data


def to_yaml(spec: CanonicalSpec, dumper: type[Any] = DUMPER) -> str:
    """The canonical YAML text of ``spec``, headed by a comment with its name and hash."""
    header = f"# normspec canonical form of '{spec.name}' ({spec.hash})\n"
    body = yaml.dump(to_data(spec), Dumper=dumper, sort_keys=False, width=100)
    return header + body
