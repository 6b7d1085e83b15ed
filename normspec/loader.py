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
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from normspec.errors import Location, Path, Problem, SpecError

MAX_SOURCE_BYTES = 2_900_000
"""Largest spec file or text, in UTF-8 bytes. Canonical output has 11-17 bytes a node, so for a
canonical spec this limit and :data:`MAX_NODES` bind at about the same size (8,000 dense layers:
2.1 MB, 128,000 nodes, read in about 0.5 s)."""
MAX_NODES = 200_000
MAX_DEPTH = 64
MAX_TEXT = MAX_SOURCE_BYTES
"""Characters of keys and scalars, counting every alias expansion: without aliases a document
never has more text than its source, so only aliases can exceed this."""
MAX_NUMBER_CHARS = 100
"""Longest number literal: longer ones are absurd and ``int`` refuses more than 4300 digits."""
_REPARSE_CHARS = 500_000
"""Up to this size a file that libyaml rejects is parsed again by PyYAML (at ~0.6 MB/s)."""
SHOWN_CHARS = 60
"""User values quoted in messages are cut to about this many characters."""

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_PLAIN_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}

# PyYAML's YAML 1.1 number patterns without the sexagesimal forms: ``1:30`` stays the text it
# looks like (and fails validation where a number is wanted) instead of silently becoming 90.
_INT_RE = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [
        (tag, _INT_RE if tag == _INT else _FLOAT_RE if tag == _FLOAT else regexp)
        for tag, regexp in resolvers
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}

_NOT_ALLOWED = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

# libyaml's parser when PyYAML has it (the usual wheels do): about 20 times faster.
_Parser: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


def shown(value: object) -> str:
    """``repr`` of a user value, cut to about :data:`SHOWN_CHARS` characters."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[: SHOWN_CHARS - 5]}…{text[-4:]} ({len(str(value)):,} characters)"


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


class _Invalid(Exception):
    """A scalar that cannot be read as its tag says; the message explains why."""


_Event = Any
"""A parser event (``yaml.events``); their attributes are untyped."""

_DISCARD = object()
"""What a node that is read but not built delivers (a rejected key, or the value of one)."""


class _Frame:
    """An open collection. A ``skip`` frame's items are read but not built (a bad tag, a key
    that is not text); it delivers ``container`` when it closes."""

    __slots__ = ("container", "depth", "is_map", "path", "skip", "slot", "want_key")

    def __init__(self, container: Any, path: Path, depth: int, *, skip: bool = False) -> None:
        self.container = container
        self.path = path
        self.depth = depth
        self.is_map = isinstance(container, dict)
        self.skip = skip
        self.want_key = True
        self.slot: Path | None = None
        """In a mapping: the path of the value that comes next, ``None`` to drop it."""


class _Builder:
    """Builds one document's data from parser events with an explicit stack (no recursion but
    for alias expansion, which nests no deeper than the document does)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.doc = Document(data=None, source=source)
        self.problems: list[Problem] = []
        self.stack: list[_Frame] = []
        self.done = False
        self.count = 0
        self.expanded = 0
        self.text = 0
        # Events of anchored nodes, recorded once, and each anchor's slice of them.
        self.tape: list[_Event] = []
        self.anchors: dict[str, tuple[int, int]] = {}
        self.open_anchors: dict[str, int] = {}
        self.cycles: set[int] = set()
        """Ids of the alias events met inside the node they name."""
        self.outer: tuple[_Event, Path] | None = None
        """The alias in the source being expanded, if any: fatal problems point at it."""
        self.plain: dict[str, Any] = {}
        """Values of the plain scalars read so far (specs repeat their numbers and words)."""
        self._scalars = yaml.constructor.SafeConstructor()

    def loc(self, event: _Event) -> Location:
        mark = event.start_mark
        return Location(self.source, mark.line + 1, mark.column + 1)

    def fail(self, event: _Event, path: Path, message: str) -> NoReturn:
        if self.outer is not None:
            event, path = self.outer
        raise SpecError([Problem(self.loc(event), _short(path), message)])

    def note(self, event: _Event, path: Path, message: str) -> None:
        self.problems.append(Problem(self.loc(event), path, message))

    def run(self, parser: Any) -> None:
        """Read the events of one document; anchored nodes' events are kept for their aliases."""
        get_event, feed, tape, open_anchors = (
            parser.get_event,
            self.feed,
            self.tape,
            self.open_anchors,
        )
        raw: list[str | None] = []
        documents = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                if event.anchor is not None:
                    self.define(event)
                    self.anchors[event.anchor] = (len(tape), len(tape) + 1)
                    tape.append(event)
                elif open_anchors:
                    tape.append(event)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.anchor is not None:
                    self.define(event)
                    open_anchors[event.anchor] = len(tape)
                if open_anchors:
                    tape.append(event)
                raw.append(event.anchor)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                if open_anchors:
                    tape.append(event)
                anchor = raw.pop()
                if anchor is not None:
                    self.anchors[anchor] = (open_anchors.pop(anchor), len(tape))
            elif kind is AliasEvent:
                if open_anchors:
                    tape.append(event)
                    if event.anchor in open_anchors:
                        self.cycles.add(id(event))
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.fail(event, (), "a spec is one YAML document; found a second one ('---')")
                continue
            elif event is None or kind is StreamEndEvent:
                return
            else:
                continue
            feed(event)

    def define(self, event: _Event) -> None:
        if event.anchor in self.anchors or event.anchor in self.open_anchors:
            path = self.stack[-1].path if self.stack else ()
            self.fail(event, path, f"YAML syntax error: duplicate anchor &{_name(event)}")

    # --- building ---------------------------------------------------------------------------

    def feed(self, event: _Event) -> None:
        kind = type(event)
        stack = self.stack
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            self.deliver(stack.pop().container)
            return
        path: Path
        if not stack:
            path, depth = (), 0
        else:
            top = stack[-1]
            depth = top.depth + 1
            if top.skip:
                self.discard(event, top.path, depth)
                return
            if top.is_map:
                if top.want_key:
                    self.key(event, top)
                    return
                if top.slot is None:
                    self.discard(event, top.path, depth)
                    return
                path = top.slot
            else:
                path = (*top.path, len(top.container))
        if kind is AliasEvent:
            self.alias(event, path)
            return
        self.count += 1
        if self.outer is not None:
            self.expanded += 1
        if self.count > MAX_NODES:
            self.fail(event, path, _TOO_BIG if self.expanded else _TOO_MANY)
        if depth > MAX_DEPTH:
            self.fail(event, path, f"nesting deeper than {MAX_DEPTH}")
        mark = event.start_mark
        self.doc.positions[path] = Location(self.source, mark.line + 1, mark.column + 1)
        if kind is ScalarEvent:
            self.deliver(self.scalar(event, path))
            return
        tag = event.tag
        default = _MAP if kind is MappingStartEvent else _SEQ
        if tag is None or tag == "!" or tag == default:
            stack.append(_Frame({} if kind is MappingStartEvent else [], path, depth))
        else:
            self.bad_tag(event, path)
            stack.append(_Frame({} if kind is MappingStartEvent else None, path, depth, skip=True))

    def deliver(self, value: Any) -> None:
        stack = self.stack
        if not stack:
            self.doc.data = value
            self.done = True
            return
        top = stack[-1]
        if top.skip:
            return
        if not top.is_map:
            top.container.append(value)
        elif top.want_key:  # the key was rejected: its value is dropped too
            top.want_key = False
            top.slot = None
        else:
            if top.slot is not None:
                top.container[top.slot[-1]] = value
            top.want_key = True

    def discard(self, event: _Event, path: Path, depth: int) -> None:
        """Read a node that is not built: only its nesting is followed (and bounded)."""
        kind = type(event)
        if depth > MAX_DEPTH:
            self.fail(event, path, f"nesting deeper than {MAX_DEPTH}")
        if kind is MappingStartEvent or kind is SequenceStartEvent:
            self.stack.append(_Frame(_DISCARD, path, depth, skip=True))
            return
        if kind is AliasEvent:
            self.lookup(event, path)
        self.deliver(_DISCARD)

    def key(self, event: _Event, top: _Frame, at: _Event = None) -> None:
        """A mapping key; ``at`` is the alias it came from, where its problems are reported."""
        kind = type(event)
        if kind is AliasEvent:
            start, end = self.lookup(event, top.path)
            if end == start + 1 and type(self.tape[start]) is ScalarEvent:
                self.key(self.tape[start], top, event)
                return
        if kind is not ScalarEvent:
            self.note(event, top.path, "keys must be plain text")
            self.discard(event, top.path, top.depth + 1)
            return
        at = at or event
        key: str = event.value
        self.grow(at, key, top.path)
        tag = event.tag
        if tag == _MERGE or (key == "<<" and (tag is None or tag == "!") and event.implicit[0]):
            self.note(at, top.path, "merge keys ('<<') are not supported")
            self.deliver(_DISCARD)
            return
        if key in top.container:
            self.note(at, (*top.path, _clip_key(key)), f"duplicate key {shown(key)}")
            self.deliver(_DISCARD)
            return
        path = (*top.path, key)
        mark = at.start_mark
        self.doc.key_positions[path] = Location(self.source, mark.line + 1, mark.column + 1)
        top.slot = path
        top.want_key = False

    def alias(self, event: _Event, path: Path) -> None:
        start, end = self.lookup(event, path)
        if start == end:  # an alias inside the node it names
            self.count += 1
            self.doc.positions[path] = self.loc(event)
            self.note(event, path, f"alias *{_name(event)} refers to a node that contains it")
            self.deliver(None)
            return
        outer = self.outer
        if outer is None:
            self.outer = (event, path)
        tape, feed = self.tape, self.feed
        for i in range(start, end):
            feed(tape[i])
        self.outer = outer

    def lookup(self, event: _Event, path: Path) -> tuple[int, int]:
        """The tape slice of an alias's anchor; an empty one for an alias inside its anchor."""
        if id(event) in self.cycles:
            return 0, 0
        found = self.anchors.get(event.anchor)
        if found is None:
            self.fail(event, path, f"YAML syntax error: found undefined alias *{_name(event)}")
        return found

    def grow(self, event: _Event, text: str, path: Path) -> None:
        self.text += len(text)
        if self.text > MAX_TEXT:
            self.fail(event, path, _TOO_LONG)

    def scalar(self, event: _Event, path: Path) -> Any:
        value: str = event.value
        self.text += len(value)
        if self.text > MAX_TEXT:
            self.fail(event, path, _TOO_LONG)
        tag = event.tag
        implicit = tag is None or tag == "!"
        plain = implicit and event.implicit[0]
        if plain:
            if value in self.plain:
                return self.plain[value]
            tag = _resolve(value)
            if tag not in _PLAIN_TAGS:
                self.note(event, path, _implicit_message(tag, value))
                return None
        elif implicit:
            return value
        elif tag not in _PLAIN_TAGS:
            self.bad_tag(event, path)
            return None
        try:
            result = value if tag == _STR else self.convert(tag, value)
        except _Invalid as exc:
            self.note(event, path, str(exc))
            return None
        if plain:
            self.plain[value] = result
        return result

    def convert(self, tag: str, value: str) -> Any:
        if tag == _NULL:
            return None
        if tag == _BOOL:
            found = self._scalars.bool_values.get(value.lower())
            if found is None:
                raise _Invalid(f"{shown(value)} is not a valid boolean")
            return found
        if len(value) > MAX_NUMBER_CHARS:
            raise _Invalid(
                f"number too large: {len(value):,} characters "
                f"(numbers are limited to {MAX_NUMBER_CHARS})"
            )
        node = yaml.ScalarNode(tag, value)
        try:
            if tag == _INT:
                return self._scalars.construct_yaml_int(node)
            return self._scalars.construct_yaml_float(node)
        except (ValueError, IndexError) as exc:
            kind = "integer" if tag == _INT else "number"
            raise _Invalid(f"{shown(value)} is not a valid {kind}") from exc

    def bad_tag(self, event: _Event, path: Path) -> None:
        self.note(
            event,
            path,
            f"tag {shown(event.tag)} is not allowed: specs are plain data "
            "(mappings, lists, strings, numbers, booleans)",
        )


def _resolve(value: str) -> str:
    """The tag of a plain scalar, as PyYAML's resolver finds it (but see :data:`_INT_RE`)."""
    for tag, regexp in _RESOLVERS.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


def _clip_key(key: str) -> str:
    return key if len(key) <= SHOWN_CHARS else shown(key)


def _short(path: Path) -> Path:
    """``path`` with any long key cut, for a fatal problem (nothing else refers to it)."""
    return tuple(_clip_key(part) if isinstance(part, str) else part for part in path)


def _implicit_message(tag: str, value: str) -> str:
    if tag == _TIMESTAMP:
        text = value[:SHOWN_CHARS]
        return f"{text} reads as a date in YAML; quote it ('{text}') to use it as text"
    meaning = tag.rsplit(":", 1)[-1]
    return f"{shown(value)} has a special meaning in YAML ({meaning}); quote it to use it as text"


def _name(event: _Event) -> str:
    name = str(event.anchor)
    return name if len(name) <= SHOWN_CHARS else shown(name)


_TOO_MANY = f"the spec has more than {MAX_NODES:,} nodes; refusing to load it"
_TOO_BIG = (
    f"the document expands to more than {MAX_NODES:,} nodes "
    "(aliases repeated too often?); refusing to load it"
)
_TOO_LONG = (
    f"the document expands to more than {MAX_TEXT:,} characters of text "
    "(aliases repeated too often?); refusing to load it"
)


def read_source(spec: str | FsPath) -> tuple[str, str]:
    """Return ``(text, source_name)`` for a path or for literal YAML text.

    Only regular files are read (a device, FIFO or socket could be endless or never answer),
    and never more than :data:`MAX_SOURCE_BYTES` + 1 bytes, even from a file that grows.
    """
    if not (isinstance(spec, FsPath) or ("\n" not in spec and spec.endswith((".yaml", ".yml")))):
        return spec, "<string>"
    path = FsPath(spec)
    name = str(path)

    def refuse(message: str, line: int = 1, column: int = 1) -> NoReturn:
        raise SpecError([Problem(Location(name, line, column), (), message)])

    if "\0" in name:
        refuse("cannot read file: the path is not valid")

    try:
        info = os.stat(path)  # follows symlinks: a link to /dev/urandom is a device
        if not stat.S_ISREG(info.st_mode):
            refuse(_not_regular(info.st_mode))
        if info.st_size > MAX_SOURCE_BYTES:
            refuse(f"file is {info.st_size:,} bytes; specs are limited to {MAX_SOURCE_BYTES:,}")
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it does not
        # wait for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                refuse(_not_regular(mode))
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        refuse(_os_message(exc))
    if len(data) > MAX_SOURCE_BYTES:  # it grew after the stat
        refuse(f"file is larger than {MAX_SOURCE_BYTES:,} bytes, the limit for specs")
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", errors="replace")) + 1
        refuse(f"file is not UTF-8 text (byte 0x{data[exc.start]:02X})", line, column)


def _not_regular(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((what for test, what in kinds if test(mode)), "a special file")
    return f"not a regular file ({kind}); a spec must be a regular file"


def _os_message(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "cannot read file: permission denied"
    return f"cannot read file: {exc.__class__.__name__}"


def _check_characters(text: str, source: str) -> None:
    """Refuse characters YAML does not allow, pointing at the first one."""
    bad = _NOT_ALLOWED.search(text)
    if bad is None:
        return
    pos = bad.start()
    head = text[:pos]
    if "\r" in head or "\x85" in head or "\u2028" in head or "\u2029" in head:
        breaks = list(_BREAK.finditer(head))
        line, start = len(breaks) + 1, breaks[-1].end() if breaks else 0
    else:
        line, start = head.count("\n") + 1, head.rfind("\n") + 1
    code = ord(text[pos])
    what = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    message = f"{what} U+{code:04X} is not allowed"
    raise SpecError([Problem(Location(source, line, pos - start + 1), (), message)])


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
    _check_characters(text, source)
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
            raise SpecError([_yaml_problem(exc, source)]) from None
        if len(text) > _REPARSE_CHARS:
            # See below; the node past MAX_DEPTH is then within about 1,000 characters of here.
            deep = f"nesting deeper than {MAX_DEPTH}" if "nesting" in str(exc.problem) else ""
            raise SpecError([_yaml_problem(exc, source, deep)]) from None
        # PyYAML's own parser (slower, but not recursive either) words its syntax errors
        # better, e.g. it names the character that cannot start a token. And libyaml stops at
        # its own depth limit (1000) while it is still looking ahead for the end of a possible
        # key, before the builder sees the node past MAX_DEPTH: PyYAML's parser reaches it.
        try:
            builder = _parse(text, source, yaml.SafeLoader)
        except yaml.MarkedYAMLError as again:
            raise SpecError([_yaml_problem(again, source)]) from None
    if not builder.done:
        raise SpecError([Problem(Location(source, 1, 1), (), "the spec is empty")])
    builder.doc.problems = builder.problems
    return builder.doc


def _parse(text: str, source: str, parser_class: Any) -> _Builder:
    builder = _Builder(source)
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


def _yaml_problem(exc: yaml.MarkedYAMLError, source: str, message: str = "") -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = message or f"YAML syntax error: {_clip(exc.problem or exc.context)}"
    return Problem(Location(source, line, col), (), message)


def _clip(message: str | None) -> str:
    text = " ".join(str(message or "").split())
    return text if len(text) <= 2 * SHOWN_CHARS else text[: 2 * SHOWN_CHARS - 1] + "…"
