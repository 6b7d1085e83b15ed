"""Python source building blocks shared by the emitters: literals, calls and statements.

Emitters describe code as values (:class:`Call`, :class:`Raw`, numbers, strings, tuples) and
:func:`statement` lays a statement out the way ``ruff format`` does at its default width (88,
which also satisfies the project's 100), so every emitted module is format-clean by
construction: a statement that fits stays on one line; otherwise its outermost brackets are
split. With ``pack`` their contents first try one indented line (ruff's own choice); without
it, and as the fallback, they go one item per line with a trailing comma (a "magic" comma,
which ruff keeps at any width), each item split the same way if it still does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Raw:
    """Source text inserted as is: a variable, an attribute, a short expression."""

    text: str


@dataclass(frozen=True)
class Call:
    """``func(arg, ..., key=value, ...)``; values are literals, :class:`Raw` or calls."""

    func: str
    args: tuple[tuple[str | None, Any], ...]


_OMIT = object()
OMIT: Any = _OMIT
"""A keyword value that leaves the keyword out, so optional arguments read inline."""


def call(func: str, *positional: Any, **keywords: Any) -> Call:
    """A call with the positional arguments first, then the keywords in the order given
    (keywords whose value is :data:`OMIT` left out)."""
    args: list[tuple[str | None, Any]] = [(None, value) for value in positional]
    args += [(key, value) for key, value in keywords.items() if value is not _OMIT]
    return Call(func, tuple(args))


def literal(value: Any) -> str:
    """Python source of ``value``, spelled the way ``ruff format`` keeps it."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Call):
        return f"{value.func}({', '.join(_argument(key, v) for key, v in value.args)})"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_literal(value)
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v) for v in value)}]"
    raise TypeError(f"no literal for {type(value).__name__}")


def float_literal(value: float) -> str:
    """The shortest spelling that reads back as the same float; ruff drops an exponent's '+'."""
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"{text} has no Python literal")
    return text.replace("e+", "e")


def string_literal(value: str) -> str:
    """A literal in the double quotes ruff normalizes to; ``repr`` does the escaping."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


def fits(lines: list[str]) -> bool:
    return all(len(line) <= LINE_LENGTH for line in lines)


def _argument(key: str | None, value: Any) -> str:
    return f"{key}={literal(value)}" if key else literal(value)


def _parts(value: Any) -> tuple[str, str, list[tuple[str, Any]]] | None:
    """Opening text, closing bracket and items of a value that can be split over lines."""
    if isinstance(value, Call) and value.args:
        return f"{value.func}(", ")", [(f"{k}=" if k else "", v) for k, v in value.args]
    if isinstance(value, tuple | list) and len(value) > 1:
        head, close = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        return head, close, [("", item) for item in value]
    return None


def statement(
    prefix: str, value: Any, suffix: str = "", depth: int = 2, *, pack: bool = True
) -> list[str]:
    """``prefix + value + suffix`` indented ``depth`` levels, split like ``ruff format``.

    With ``pack``, an assignment whose value starts too far right for its own brackets to help
    (or that has none to split) gets its value parenthesized on the next lines, as ruff does.
    """
    pad = INDENT * depth
    line = pad + prefix + literal(value) + suffix
    if len(line) <= LINE_LENGTH:
        return [line]
    parts = _parts(value)
    if pack and prefix.endswith("= "):
        head = parts[0] if parts else ""
        if parts is None or len(pad + prefix + head) > LINE_LENGTH:
            inner = statement("", value, "", depth + 1, pack=pack)
            return [pad + prefix + "(", *inner, pad + ")" + suffix]
    if parts is None:
        return [line]
    head, close, items = parts
    inner_line = INDENT * (depth + 1) + ", ".join(p + literal(v) for p, v in items)
    if pack and len(inner_line) <= LINE_LENGTH:
        return [pad + prefix + head, inner_line, pad + close + suffix]
    lines = [pad + prefix + head]
    for item_prefix, item in items:
        lines += statement(item_prefix, item, ",", depth + 1, pack=pack)
    return [*lines, pad + close + suffix]
