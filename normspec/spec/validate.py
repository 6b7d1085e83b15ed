"""Pydantic validation with errors turned into located, readable :class:`Problem` records."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from normspec.errors import Path, Problem, shown
from normspec.loader import Document
from normspec.spec import hints, unions
from normspec.spec.suggestions import suggest

M = TypeVar("M", bound=BaseModel)
_TYPE_MISMATCH = {"model_type", "dict_type", "model_attributes_type", "list_type"}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


Models = list[type[BaseModel]]
_Error = tuple[dict[str, Any], list[str], Models]
"""A Pydantic error with the field names and the models valid where it is."""


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Path, list[str], Models]:
    """Drop union-branch tags from ``loc``; return it with the field names (and the models)
    valid at its end."""
    classes: list[type[BaseModel]] = [root]
    clean: list[str | int] = []
    fields: list[str] = list(root.model_fields)
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            continue
        owners = [c for c in classes if part in c.model_fields]
        if not owners:
            tagged = [c for c in classes if _tagged(c, part)]
            if tagged:  # a discriminated union's tag: keep the branch it names
                classes = tagged
                fields = sorted({f for c in classes for f in c.model_fields})
            continue
        clean.append(part)
        classes = [m for c in owners for m in _models_in(c.model_fields[part].annotation)]
        fields = sorted({f for c in classes for f in c.model_fields})
    return tuple(clean), fields, classes


def _tagged(model: type[BaseModel], tag: str) -> bool:
    """``model`` is the branch of a union that the discriminator value ``tag`` selects."""
    for info in model.model_fields.values():
        annotation = info.annotation
        if get_origin(annotation) is typing.Literal and tag in get_args(annotation):
            return True
    return False


def validate(
    model: type[M],
    data: Any,
    doc: Document,
    base: Path,
    problems: list[Problem],
    *,
    strict: bool = False,
) -> M | None:
    """Validate ``data`` (found at ``base`` in ``doc``) as ``model``; collect problems.
    ``strict`` for a model not strict by itself (the IR's)."""
    try:
        return model.model_validate(data, strict=strict or None)
    except ValidationError as exc:
        problems.extend(_problems(model, exc, doc, base))
        return None


def _problems(
    model: type[BaseModel], exc: ValidationError, doc: Document, base: Path
) -> list[Problem]:
    grouped: dict[Path, list[_Error]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":  # the unknown key is not a field to walk into
            clean, fields, classes = _walk(model, loc[:-1])
            clean = (*clean, str(loc[-1]))
        else:
            clean, fields, classes = _walk(model, loc)
        grouped.setdefault(clean, []).append((dict(err), fields, classes))
    deeper = {p[:i] for p in grouped for i in range(len(p))}
    out = []
    for path, errs in grouped.items():
        kinds = {e["type"] for e, _, _ in errs}
        if path in deeper and kinds <= _TYPE_MISMATCH | {"literal_error", "int_type", "str_type"}:
            continue  # the value was a mapping that failed deeper; the branch mismatch is noise
        full = base + path
        tag = next((e for e in errs if e[0]["type"] in unions.TAG_ERRORS), None)
        if tag is not None:
            names = _literal_choices([e for e, _, _ in errs])
            out.extend(unions.tag_problems(doc, full, tag[0], tag[2], names))
            continue
        if _said_elsewhere(errs):
            continue
        key = "extra_forbidden" in kinds
        out.append(doc.problem(full, _message(errs, full), key=key))
    return out


def _said_elsewhere(errs: list[_Error]) -> bool:
    """A missing ``input`` beside a top-level ``input_shape``, whose problem says where the
    shape goes."""
    first = errs[0][0]
    parent = first["input"]
    return (
        first["type"] == "missing"
        and tuple(first["loc"]) == ("input",)
        and isinstance(parent, dict)
        and any(hints.is_input_shape(k) for k in parent)
    )


def _literal_choices(errs: list[dict[str, Any]]) -> list[str]:
    """The names a literal error says are allowed (``'a', 'b' or 'c'``)."""
    for err in errs:
        if err["type"] == "literal_error":
            expected = str(err["ctx"]["expected"])
            return [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
    return []


def _message(full_errs: list[_Error], path: Path) -> str:
    first, fields, _ = full_errs[0]
    errs = [(e, f) for e, f, _ in full_errs]
    kind = first["type"]
    if kind == "extra_forbidden":
        key = str(first["loc"][-1])
        return unions.unknown_key(key, fields, hints.misplaced_key(path[:-1], key, first["input"]))
    if kind == "missing":
        return hints.missing_key(str(first["loc"][-1]))
    checks = [e for e, _ in errs if e["type"] == "value_error"]
    if checks:  # a value of the right form that breaks a rule (a branch's own check)
        return f"{_short(checks[0])} (got {shown(checks[0]['input'])})"
    literals = [e for e, _ in errs if e["type"] == "literal_error"]
    if literals:
        expected = str(literals[0]["ctx"]["expected"])
        choices = _literal_choices(literals)
        kinds = {e["type"] for e, _ in errs}
        mapping = " or a list" if "list_type" in kinds else ""
        if kinds & (_TYPE_MISMATCH - {"list_type"}):
            mapping = " or a mapping"
        got = first["input"]
        hint = suggest(got, choices) if isinstance(got, str) else ""
        return f"got {shown(got)}{hint}; expected {expected}{mapping}"
    text = "; ".join(dict.fromkeys(_short(e) for e, _ in errs))
    return f"{text} (got {shown(first['input'])})"


def _short(err: dict[str, Any]) -> str:
    msg = str(err["msg"])
    msg = msg.replace("Input should be", "should be").replace("Value error, ", "")
    msg = msg.replace("a valid dictionary or instance of ", "a mapping (")
    msg = msg.replace("a valid tuple", "a list")
    if "mapping (" in msg:
        msg += ")"
    return msg[0].lower() + msg[1:]
