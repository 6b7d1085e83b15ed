"""Fields written either as a name or as a mapping whose tag picks its form (``optimizer: adam``
or ``optimizer: {kind: adam, learning_rate: 0.001}``): the problems of a mapping whose tag is
wrong or missing, with both accepted forms spelled out."""

from __future__ import annotations

import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from normspec.errors import Path, Problem, shown
from normspec.loader import Document
from normspec.spec.suggestions import closest, suggest

TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}
"""Pydantic's errors for a mapping whose tag names no form, or that has no tag."""


def unknown_key(key: str, fields: list[str], hint: str | None = None) -> str:
    """The message for ``key``, which is none of ``fields``; ``hint`` says where it lives."""
    if hint is not None:
        return f"unknown key {shown(key)}: {hint}"
    return f"unknown key {shown(key)}{suggest(key, fields)}; allowed keys: {', '.join(fields)}"


def tag_problems(
    doc: Document,
    path: Path,
    err: dict[str, Any],
    classes: list[type[BaseModel]],
    names: list[str],
) -> list[Problem]:
    """The problems of the mapping at ``path``: its tag (wrong or missing), and the keys that
    no form it may have meant takes. ``names`` are the names the field also accepts."""
    tag_key = str(err["ctx"]["discriminator"]).strip("'")
    forms = _forms(path, tag_key, classes, names)
    tags = [t for c in classes for t in _tags(c, tag_key)]
    branches = classes
    if err["type"] == "union_tag_invalid":
        tag = str(err["ctx"]["tag"])
        meant = closest(tag, tags)
        if meant is not None:
            branches = [c for c in classes if meant in _tags(c, tag_key)]
        out = [doc.problem((*path, tag_key), f"got {shown(tag)}{suggest(tag, tags)}; {forms}")]
    else:
        out = [doc.problem(path, f"missing required key '{tag_key}'; {forms}")]
    allowed = sorted({f for c in branches for f in c.model_fields})
    data = err["input"]
    for key in data if isinstance(data, dict) else ():
        if isinstance(key, str) and key not in allowed:
            out.append(doc.problem((*path, key), unknown_key(key, allowed), key=True))
    return out


def _forms(path: Path, tag_key: str, classes: list[type[BaseModel]], names: list[str]) -> str:
    """``write optimizer as a name ('sgd' or 'adam') or as a mapping {kind: sgd, ...} or ...``"""
    field = next((p for p in reversed(path) if isinstance(p, str)), "it")
    mappings = []
    for model in dict.fromkeys(classes):
        others = [f for f in model.model_fields if f != tag_key]
        mappings.append(
            "{" + ", ".join([f"{tag_key}: {' | '.join(_tags(model, tag_key))}", *others]) + "}"
        )
    mapping = "a mapping " + " or ".join(mappings)
    if not names:
        return f"write {field} as {mapping}"
    quoted = [f"'{n}'" for n in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"write {field} as a name ({listed}) or as {mapping}"


def _tags(model: type[BaseModel], tag_key: str) -> list[str]:
    info = model.model_fields.get(tag_key)
    annotation = info.annotation if info else None
    if get_origin(annotation) is typing.Literal:
        return [str(a) for a in get_args(annotation)]
    return []
