"""Safe YAML loading that remembers where every node came from.

Only plain data is accepted: mappings, sequences, strings, numbers, booleans and null. Any other
tag (``!!python/object`` and friends) is an error, as are duplicate keys. Aliases are followed but
the expanded document is bounded, so a "billion laughs" file fails fast with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from normspec.errors import Location, Path, Problem, SpecError

MAX_SOURCE_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@dataclass
class Document:
    """Parsed YAML data plus the location of every node, keyed by its path."""

    data: Any
    source: str
    positions: dict[Path, Location] = field(default_factory=dict)
    key_positions: dict[Path, Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    """Problems found while reading (bad tags, duplicate keys); their nodes read as null."""

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """Location of ``path``, or of its nearest ancestor that exists in the source."""
        table = self.key_positions if key else self.positions
        if path in table:
            return table[path]
        for cut in range(len(path) - 1, -1, -1):
            if path[:cut] in self.positions:
                return self.positions[path[:cut]]
        return Location(self.source, 1, 1)

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        return Problem(self.locate(path, key=key), path, message)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.doc = Document(data=None, source=source)
        self.count = 0
        self.problems: list[Problem] = []
        self._scalars = yaml.constructor.SafeConstructor()

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.source, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError([Problem(self.loc(node), path, _TOO_BIG)])
        if depth > MAX_DEPTH:
            raise SpecError([Problem(self.loc(node), path, f"nesting deeper than {MAX_DEPTH}")])
        self.doc.positions[path] = self.loc(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._bad_tag(node, path)
                return None
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        if node.tag != "tag:yaml.org,2002:map":
            self._bad_tag(node, path)
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(self.loc(key_node), path, "merge keys ('<<') are not supported")
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.loc(key_node), path, "keys must be plain text"))
                continue
            key = str(key_node.value)
            if key in out:
                self.problems.append(
                    Problem(self.loc(key_node), (*path, key), f"duplicate key '{key}'")
                )
                continue
            self.doc.key_positions[(*path, key)] = self.loc(key_node)
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag not in _PLAIN_TAGS:
            self._bad_tag(node, path)
            return None
        return self._scalars.construct_object(node, deep=True)

    def _bad_tag(self, node: yaml.Node, path: Path) -> None:
        self.problems.append(
            Problem(
                self.loc(node),
                path,
                f"tag '{node.tag}' is not allowed: specs are plain data "
                "(mappings, lists, strings, numbers, booleans)",
            )
        )


_TOO_BIG = (
    f"the document expands to more than {MAX_NODES:,} nodes "
    "(aliases repeated too often?); refusing to load it"
)


def read_source(spec: str | FsPath) -> tuple[str, str]:
    """Return ``(text, source_name)`` for a path or for literal YAML text."""
    if isinstance(spec, FsPath) or ("\n" not in spec and spec.endswith((".yaml", ".yml"))):
        path = FsPath(spec)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise SpecError([Problem(Location(str(path), 1, 1), (), _os_message(exc))]) from None
        if size > MAX_SOURCE_BYTES:
            message = f"file is {size:,} bytes; specs are limited to {MAX_SOURCE_BYTES:,}"
            raise SpecError([Problem(Location(str(path), 1, 1), (), message)])
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError([Problem(Location(str(path), 1, 1), (), _os_message(exc))]) from None
    return spec, "<string>"


def _os_message(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, UnicodeDecodeError):
        return "file is not UTF-8 text"
    return f"cannot read file: {exc.__class__.__name__}"


def load_yaml(text: str, source: str = "<string>") -> Document:
    """Parse ``text`` into a :class:`Document`.

    Syntax errors and oversize documents raise :class:`SpecError`; problems with single nodes
    are kept in ``Document.problems`` so that validation can report the rest of the spec too.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES:
        message = f"spec text is larger than {MAX_SOURCE_BYTES:,} bytes"
        raise SpecError([Problem(Location(source, 1, 1), (), message)])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        raise SpecError([Problem(Location(source, line, col), (), message)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(Location(source, 1, 1), (), f"YAML error: {exc}")]) from None
    builder = _Builder(source)
    if node is None:
        raise SpecError([Problem(Location(source, 1, 1), (), "the spec is empty")])
    builder.doc.data = builder.build(node, (), 0)
    builder.doc.problems = builder.problems
    return builder.doc
