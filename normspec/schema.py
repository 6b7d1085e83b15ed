"""JSON Schema of the spec format, for editors (e.g. the VS Code YAML extension)."""

from __future__ import annotations

from typing import Any

from normspec.ir import ops as ir
from normspec.ir.definitions import BLOCK
from normspec.ir.graph import TrainSpec
from normspec.spec import models as m
from normspec.spec.graph_form import GraphHeader

SCHEMA_ID = "https://normspec.dev/schema/spec.json"


def _layer_schema(kind: str, defs: dict[str, Any]) -> dict[str, Any]:
    model, shorthand = m.LAYER_KINDS[kind]
    body = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(body.pop("$defs", {}))
    defs[f"{kind}_body"] = body
    choices: list[dict[str, Any]] = [{"$ref": f"#/$defs/{kind}_body"}, {"type": "null"}]
    if shorthand is not None:
        choices.insert(0, body["properties"][shorthand])
    return {
        "type": "object",
        "properties": {kind: {"anyOf": choices}},
        "required": [kind],
        "additionalProperties": False,
    }


def layer_list_schema(defs: dict[str, Any]) -> dict[str, Any]:
    bare = [k for k, (model, _) in m.LAYER_KINDS.items() if not _required(model)]
    items: list[dict[str, Any]] = [{"enum": bare}]
    items += [_layer_schema(kind, defs) for kind in m.LAYER_KINDS]
    items += _block_use_schemas()
    return {"type": "array", "minItems": 1, "items": {"anyOf": items}}


def _block_use_schemas() -> list[dict[str, Any]]:
    """A use of one of the spec's blocks: a name that is no layer kind, bare or with its
    parameters (which blocks a spec defines, a schema cannot say)."""
    name = {
        "type": "string",
        "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
        "not": {"enum": list(m.LAYER_KINDS)},
    }
    return [
        name,
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": name,
        },
    ]


def _required(model: type[m.LayerBase]) -> list[str]:
    return [n for n, f in model.model_fields.items() if f.is_required()]


def language_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """A spec as people write it (format version 1): the header models plus a layer list with
    every kind and shorthand."""
    schema = m.SpecHeader.model_json_schema(ref_template="#/$defs/{model}")
    _merge(defs, schema.pop("$defs", {}))
    schema["properties"]["layers"] = layer_list_schema(defs)
    block = m.BlockDefinition.model_json_schema(ref_template="#/$defs/{model}")
    # a block's layers hold $parameters where numbers go: only their list is checked here
    block["properties"]["layers"] = {"type": "array", "minItems": 1}
    defs["block_definition"] = block
    schema["properties"]["blocks"] = {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
        "additionalProperties": {"$ref": "#/$defs/block_definition"},
    }
    schema["required"] = sorted({*schema.get("required", []), "layers"})
    schema["additionalProperties"] = False
    # The nested residual body/shortcut lists accept the same layer items.
    layers = {"$ref": "#/$defs/spec_v1/properties/layers"}
    props = defs["residual_body"]["properties"]
    props["body"] = layers
    props["shortcut"]["anyOf"] = [
        layers if s.get("type") == "array" else s for s in props["shortcut"]["anyOf"]
    ]
    return schema


def canonical_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """The canonical form (format version 2): every node written out as
    ``{op: {name, inputs, scope, ...fields, shape, params}}``."""
    schema = GraphHeader.model_json_schema(ref_template="#/$defs/{model}")
    _merge(defs, schema.pop("$defs", {}))
    train = TrainSpec.model_json_schema(ref_template="#/$defs/{model}")
    _merge(defs, train.pop("$defs", {}))
    defs["canonical_train"] = train
    schema["properties"]["train"] = {"$ref": "#/$defs/canonical_train"}
    nodes = [_node_schema(key, cls, defs) for key, cls in ir.OPS.items()]
    nodes.append(_block_node_schema(defs))
    node_list = {"type": "array", "minItems": 1, "items": {"anyOf": nodes}}
    schema["properties"]["nodes"] = node_list
    schema["properties"]["blocks"] = {
        "type": "object",
        "description": "Each distinct resolved sub-graph of a block, once; block nodes use it.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "block": {"type": "string"},
                "args": {"type": "object"},
                "nodes": node_list,
            },
            "required": ["block", "nodes"],
            "additionalProperties": False,
        },
    }
    schema["additionalProperties"] = False
    return schema


def _block_node_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """A use of a block: ``{block: {name, inputs, definition, shape, params}}``."""
    defs[f"{BLOCK}_node"] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "inputs": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
            "definition": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "params": {"type": "integer"},
        },
        "required": ["name", "inputs", "definition"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {BLOCK: {"$ref": f"#/$defs/{BLOCK}_node"}},
        "required": [BLOCK],
        "additionalProperties": False,
    }


def _node_schema(key: str, cls: type[ir.Op], defs: dict[str, Any]) -> dict[str, Any]:
    body = cls.model_json_schema(ref_template="#/$defs/{model}")
    _merge(defs, body.pop("$defs", {}))
    body["properties"].pop("op")
    names = {"type": "array", "items": {"type": "string"}}
    body["properties"] = {"inputs": {**names, "minItems": 1}, "scope": names, **body["properties"]}
    body["required"] = ["inputs", *(r for r in body.get("required", []) if r != "op")]
    defs[f"{key}_node"] = body
    return {
        "type": "object",
        "properties": {key: {"$ref": f"#/$defs/{key}_node"}},
        "required": [key],
        "additionalProperties": False,
    }


def _merge(defs: dict[str, Any], new: dict[str, Any]) -> None:
    for name, schema in new.items():
        if defs.setdefault(name, schema) != schema:
            raise ValueError(f"two schemas named {name}")  # a bug: models share a name


def spec_schema() -> dict[str, Any]:
    """The whole schema: a spec as people write it (``normspec: 1``) or a canonical form
    (``normspec: 2``)."""
    defs: dict[str, Any] = {}
    defs["spec_v1"] = language_schema(defs)
    defs["canonical_v2"] = canonical_schema(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "normspec spec",
        "description": "A spec (normspec: 1, layers) or a canonical form (normspec: 2, nodes).",
        "oneOf": [{"$ref": "#/$defs/spec_v1"}, {"$ref": "#/$defs/canonical_v2"}],
        "$defs": defs,
    }
