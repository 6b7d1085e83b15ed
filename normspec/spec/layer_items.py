"""The items of a layer list: which kind each one is, its options, and where they are.

A mistaken item is reported and, where the kind it means is clear (``- relu``, ``- MaxPool2d:
2``, ``{type: flatten}``, ``{class_name: Dense, config: {...}}``), read as that kind, so that
shape inference goes on and the problems of the rest of the spec are found in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from normspec.errors import Path, Problem, shown
from normspec.loader import Document
from normspec.spec import hints
from normspec.spec import models as m
from normspec.spec.suggestions import closest, suggest


@dataclass(frozen=True)
class Entry:
    """One layer item, read."""

    kind: str
    body: Any
    """Its options as written (a mapping, a shorthand scalar, or None)."""
    at: Path
    """Where its options are in the document."""
    where: Path
    """``(..., index, kind)``: the path its ops are lowered at."""
    guessed: bool = False
    """Its kind was read from a mistake (reported): its ops only carry the shape on."""
    block: bool = False
    """It uses a block of the spec's ``blocks`` (:mod:`normspec.spec.blocks`)."""


class ItemReader:
    """Reads layer items, reporting their problems into ``problems``."""

    def __init__(self, doc: Document, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems
        self.listed = False
        self.blocks: set[str] = set()
        """The names of the spec's blocks, used like layer kinds."""

    def known_layers(self) -> str:
        """``; known layers: ...`` (and the spec's blocks) the first time a message needs it,
        then nothing."""
        if self.listed:
            return ""
        self.listed = True
        blocks = f"; the spec's blocks: {', '.join(sorted(self.blocks))}" if self.blocks else ""
        return f"; known layers: {', '.join(m.LAYER_KINDS)}{blocks}"

    def read(self, item: Any, path: Path) -> Entry | None:
        if isinstance(item, dict):
            foreign = hints.foreign_layer(item)
            if foreign is not None:
                return self.foreign(foreign, path)
        if isinstance(item, str):
            kind, body = item, None
        elif isinstance(item, dict) and len(item) == 1:
            kind, body = next(iter(item.items()))
        else:
            message = "a layer is a one-key mapping like {conv2d: 32} or a bare name"
            self.problems.append(self.doc.problem(path, message + _stray(item)))
            return None
        if kind in m.LAYER_KINDS:
            return Entry(kind, body, (*path, kind), (*path, kind))
        if isinstance(kind, str) and kind in self.blocks:
            return Entry(kind, body, (*path, kind), (*path, kind), block=True)
        return self.unknown(kind, body, path, key=isinstance(item, dict))

    def unknown(self, kind: Any, body: Any, path: Path, *, key: bool) -> Entry | None:
        at = (*path, kind)
        word = kind if isinstance(kind, str) else ""
        exact = closest(word, m.LAYER_KINDS, fuzzy=False)
        function = hints.activation_named(word) if exact is None else None
        if function is not None:
            options = body if isinstance(body, dict) else {}
            message = f"unknown layer {shown(kind)}: {hints.activation_as_layer(word)}"
            self.problems.append(self.doc.problem(at, message, key=key))
            entry_body = {**options, "function": function}
            return Entry("activation", entry_body, at, (*path, "activation"), guessed=True)
        hint = suggest(word, [*m.LAYER_KINDS, *sorted(self.blocks)]) if word else ""
        message = f"unknown layer {shown(kind)}{hint}{self.known_layers()}"
        self.problems.append(self.doc.problem(at, message, key=key))
        if exact is None:
            return None
        return Entry(exact, body, at, (*path, exact), guessed=True)

    def foreign(self, found: tuple[str, str, Any, Path], path: Path) -> Entry | None:
        message, kind, body, sub = found
        if not kind:
            message += self.known_layers()
        self.problems.append(self.doc.problem(path, message))
        if not kind:
            return None
        return Entry(kind, body, (*path, *sub), (*path, kind), guessed=True)


def repaired(model: type[BaseModel], body: dict[Any, Any]) -> Any:
    """``body`` as ``model`` with each unknown key renamed to the field it likely means
    (``kernel_size`` -> ``kernel``), or None when that is not enough to make it valid."""
    fields = list(model.model_fields)
    fixed: dict[str, Any] = {}
    for key, value in body.items():
        meant = key if key in fields else closest(key, fields) if isinstance(key, str) else None
        if meant is None or meant in fixed:
            return None
        fixed[meant] = value
    try:
        return model.model_validate(fixed)
    except ValidationError:
        return None


def _stray(item: Any) -> str:
    """For ``{conv2d: {filters: 3}, kernel: 3}`` (an option indented like its layer's kind): which
    keys to move into the layer's options."""
    if not isinstance(item, dict):
        return ""
    kinds = [k for k in item if k in m.LAYER_KINDS]
    if len(kinds) != 1:
        return ""
    others = [shown(k) for k in item if k != kinds[0]]
    verb, them = ("sits", "it") if len(others) == 1 else ("sit", "them")
    return (
        f"; {', '.join(others)} {verb} beside {kinds[0]}, not inside it: indent {them} under "
        f"{kinds[0]}'s options (or put {them} in its braces)"
    )
