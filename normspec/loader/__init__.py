"""Safe YAML loading that remembers where every node came from.

Only plain data is accepted: mappings, sequences, strings, numbers, booleans and null. Any other
tag (``!!python/object`` and friends) is an error, as are duplicate keys. Aliases are followed but
the expanded document is bounded, so a "billion laughs" file fails fast with a clear message.

The document is built from the parser's event stream (libyaml's when available) by a loop with
an explicit stack, not by ``yaml.compose``, whose recursion a deeply nested file can exhaust.
Depth, node count and expanded text size are checked as the events arrive, so a bad file is
refused at its first offending node, before the rest of it is read.
"""

from __future__ import annotations

import gc
from typing import Any

import yaml

from normspec.errors import Location, Problem, SpecError
from normspec.loader.builder import Builder
from normspec.loader.document import Document
from normspec.loader.limits import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE_BYTES,
    MAX_TEXT,
    SHOWN_CHARS,
    shown,
)
from normspec.loader.source import check_characters, read_source
from normspec.loader.syntax import explain

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SOURCE_BYTES",
    "MAX_TEXT",
    "Document",
    "load_yaml",
    "read_source",
    "shown",
]

_REPARSE_CHARS = 500_000
"""Up to this size a file that libyaml rejects is parsed again by PyYAML (at ~0.6 MB/s)."""

# libyaml's parser when PyYAML has it (the usual wheels do): about 20 times faster.
_Parser: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


def load_yaml(text: str, source: str = "<string>") -> Document:
    """Parse ``text`` into a :class:`Document`.

    Syntax errors and oversize documents raise :class:`SpecError`; problems with single nodes
    are kept in ``Document.problems`` so that validation can report the rest of the spec too.
    """
    if len(text) > MAX_SOURCE_BYTES or (
        4 * len(text) > MAX_SOURCE_BYTES
        and len(text.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES
    ):
        message = f"spec text is larger than {MAX_SOURCE_BYTES:,} bytes"
        raise SpecError([Problem(Location(source, 1, 1), (), message)])
    check_characters(text, source)
    collecting = gc.isenabled()
    gc.disable()  # the builder makes many objects but no cycles: collection would cost ~40%
    try:
        return _load(text, source)
    finally:
        if collecting:
            gc.enable()


def _load(text: str, source: str) -> Document:
    try:
        builder = _parse(text, source, _Parser)
    except yaml.MarkedYAMLError as exc:
        if _Parser is yaml.SafeLoader:
            raise SpecError([_yaml_problem(exc, source, text)]) from None
        if len(text) > _REPARSE_CHARS:
            # See below; the node past MAX_DEPTH is then within about 1,000 characters of here.
            deep = f"nesting deeper than {MAX_DEPTH}" if "nesting" in str(exc.problem) else ""
            raise SpecError([_yaml_problem(exc, source, text, deep)]) from None
        # PyYAML's own parser (slower, but not recursive either) words its syntax errors
        # better, e.g. it names the character that cannot start a token. And libyaml stops at
        # its own depth limit (1000) while it is still looking ahead for the end of a possible
        # key, before the builder sees the node past MAX_DEPTH: PyYAML's parser reaches it.
        try:
            builder = _parse(text, source, yaml.SafeLoader)
        except yaml.MarkedYAMLError as again:
            raise SpecError([_yaml_problem(again, source, text)]) from None
    if not builder.done:
        raise SpecError([Problem(Location(source, 1, 1), (), "the spec is empty")])
    builder.doc.problems = builder.problems
    return builder.doc


def _parse(text: str, source: str, parser_class: Any) -> Builder:
    builder = Builder(source)
    parser = parser_class(text)
    try:
        builder.run(parser)
    except yaml.MarkedYAMLError:
        raise
    except yaml.YAMLError as exc:
        message = f"YAML error: {_clip(str(exc))}"
        raise SpecError([Problem(Location(source, 1, 1), (), message)]) from None
    finally:
        parser.dispose()
    return builder


def _yaml_problem(exc: yaml.MarkedYAMLError, source: str, text: str, message: str = "") -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if not message:
        opened = exc.context_mark
        words = explain(
            str(exc.problem or ""),
            str(exc.context or ""),
            (opened.line, opened.column) if opened else None,
            text,
            line - 1,
            col - 1,
        )
        message = f"YAML syntax error: {words or _clip(exc.problem or exc.context)}"
    return Problem(Location(source, line, col), (), message)


def _clip(message: str | None) -> str:
    text = " ".join(str(message or "").split())
    return text if len(text) <= 2 * SHOWN_CHARS else text[: 2 * SHOWN_CHARS - 1] + "…"
