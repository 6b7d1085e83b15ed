"""Building a spec's data from the YAML parser's event stream, with an explicit stack.

Not ``yaml.compose``, whose recursion a deeply nested file can exhaust: depth, node count and
expanded text are checked as the events arrive, so a bad file is refused at its first offending
node. Aliases are followed by replaying the recorded events of their anchor.
"""

from __future__ import annotations

from typing import Any, NoReturn

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
from normspec.loader.document import Document
from normspec.loader.limits import MAX_DEPTH, MAX_NODES, MAX_TEXT, SHOWN_CHARS, shown
from normspec.loader.scalars import (
    _MAP,
    _MERGE,
    _SEQ,
    _STR,
    PLAIN_TAGS,
    Invalid,
    convert,
    implicit_message,
    resolve,
)

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


class Builder:
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
            tag = resolve(value)
            if tag not in PLAIN_TAGS:
                self.note(event, path, implicit_message(tag, value))
                return None
        elif implicit:
            return value
        elif tag not in PLAIN_TAGS:
            self.bad_tag(event, path)
            return None
        try:
            result = value if tag == _STR else convert(tag, value)
        except Invalid as exc:
            self.note(event, path, str(exc))
            return None
        if plain:
            self.plain[value] = result
        return result

    def bad_tag(self, event: _Event, path: Path) -> None:
        self.note(
            event,
            path,
            f"tag {shown(event.tag)} is not allowed: specs are plain data "
            "(mappings, lists, strings, numbers, booleans)",
        )


def _clip_key(key: str) -> str:
    return key if len(key) <= SHOWN_CHARS else shown(key)


def _short(path: Path) -> Path:
    """``path`` with any long key cut, for a fatal problem (nothing else refers to it)."""
    return tuple(_clip_key(part) if isinstance(part, str) else part for part in path)


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
