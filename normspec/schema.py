"""JSON Schema of the spec format, for editors (e.g. the VS Code YAML extension)."""

from __future__ import annotations

from typing import Any

from normspec.spec import models as m

SCHEMA_ID = "https://normspec.dev/schema/spec-v1.json"


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
    return {"type": "array", "minItems": 1, "items": {"anyOf": items}}


def _required(model: type[m.LayerBase]) -> list[str]:
    return [n for n, f in model.model_fields.items() if f.is_required()]


def spec_schema() -> dict[str, Any]:
    """The whole schema: the header models plus a layer list with every kind and shorthand."""
    schema = m.SpecHeader.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    schema["properties"]["layers"] = layer_list_schema(defs)
    schema["required"] = sorted({*schema.get("required", []), "layers"})
    schema["additionalProperties"] = False
    # The nested residual body/shortcut lists accept the same layer items.
    for kind in ("residual",):
        props = defs[f"{kind}_body"]["properties"]
        props["body"] = {"$ref": "#/properties/layers"}
        props["shortcut"]["anyOf"] = [
            {"$ref": "#/properties/layers"} if s.get("type") == "array" else s
            for s in props["shortcut"]["anyOf"]
        ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "normspec spec",
        **schema,
        "$defs": defs,
    }
