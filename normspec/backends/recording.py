"""What a printer writes, kept as values: a :class:`Recorder` is a
:class:`~normspec.backends.printing.Builder` whose statements stay
:class:`~normspec.backends.codegen.Call` trees and numbers (:class:`Statement`) until they are
laid out, so the statements of several blocks can be compared and turned into one class
(:mod:`normspec.backends.templates`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from normspec.backends.codegen import Call, Raw
from normspec.backends.printing import Builder


@dataclass(frozen=True)
class Statement:
    """One statement as values, laid out when the class is written."""

    prefix: str
    value: Any
    suffix: str


MARK = "\0"
"""Starts the placeholder line of a recorded statement."""


@dataclass
class Recorder(Builder):
    """A :class:`Builder` whose statements are kept as values: each line list holds a
    placeholder (``MARK`` and the statement's index) where a statement goes."""

    records: list[Statement] = field(default_factory=list)

    def statement(self, prefix: str, value: Any, suffix: str = "") -> list[str]:
        self.records.append(Statement(prefix, value, suffix))
        return [f"{MARK}{len(self.records) - 1}"]

    def statements(self, lines: list[str]) -> list[Statement | str]:
        """``lines`` with each placeholder replaced by its statement."""
        return [self.records[int(line[1:])] if line.startswith(MARK) else line for line in lines]


def lay_out(builder: Builder, items: Iterable[Statement | str]) -> list[str]:
    """The lines of ``items`` as ``builder`` lays statements out."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, Statement):
            lines += builder.statement(item.prefix, item.value, item.suffix)
        else:
            lines.append(item)
    return lines


def replace_raw(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with the text of every :class:`Raw` in it changed."""
    if isinstance(value, Raw):
        return Raw(change(value.text))
    if isinstance(value, Call):
        return Call(value.func, tuple((k, replace_raw(v, change)) for k, v in value.args))
    if isinstance(value, tuple | list):
        return type(value)(replace_raw(v, change) for v in value)
    return value


def raw_texts(value: Any) -> list[str]:
    """The text of every :class:`Raw` in ``value``."""
    found: list[str] = []

    def keep(text: str) -> str:
        found.append(text)
        return text

    replace_raw(value, keep)
    return found
