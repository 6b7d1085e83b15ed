"""Source building blocks for the Flax emitter: literals, calls and statements.

Statements are laid out the way ``ruff format`` lays them out, so the emitted module is
format-clean by construction, at ruff's default width (88) and at the project's (100) alike: a
statement that fits on one line stays on one line; otherwise the outermost call is exploded one
argument per line with a trailing comma (a "magic" comma, which ruff keeps at any width), and an
argument that still does not fit is exploded the same way.
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
    """A call with positional arguments first, then keywords in the order given."""
    args = [(None, value) for value in positional]
    args += [(key, value) for key, value in keywords.items() if value is not _OMIT]
    return Call(func, tuple(args))


def literal(value: Any) -> str:
    """Python source of ``value``, in the spelling ``ruff format`` keeps."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Call):
        parts = [f"{key}={literal(v)}" if key else literal(v) for key, v in value.args]
        return f"{value.func}({', '.join(parts)})"
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
    raise TypeError(f"no literal for {type(value).__name__}")


def float_literal(value: float) -> str:
    """Shortest round-tripping spelling; ruff writes exponents without '+'."""
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"{text} has no Python literal")
    return text.replace("e+", "e")


def string_literal(value: str) -> str:
    """A double-quoted literal, the quote style ruff normalizes to."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


def statement(prefix: str, value: Any, suffix: str = "", depth: int = 2) -> list[str]:
    """``prefix + value + suffix`` at indentation ``depth``, split like ruff if too long
    (calls and tuples of two or more items explode one item per line)."""
    pad = INDENT * depth
    line = pad + prefix + literal(value) + suffix
    if len(line) <= LINE_LENGTH:
        return [line]
    if isinstance(value, Call) and value.args:
        head, close = f"{value.func}(", ")"
        items = [(f"{key}=" if key else "", arg) for key, arg in value.args]
    elif isinstance(value, tuple) and len(value) > 1:
        head, close = "(", ")"
        items = [("", item) for item in value]
    else:
        return [line]
    lines = [f"{pad}{prefix}{head}"]
    for item_prefix, item in items:
        lines += statement(item_prefix, item, ",", depth + 1)
    lines.append(f"{pad}{close}{suffix}")
    return lines


def fits(lines: list[str]) -> bool:
    return all(len(line) <= LINE_LENGTH for line in lines)
