"""The YAML syntax errors people make in specs, explained in normspec's words with their fix.

PyYAML (and libyaml, whose wording differs) reports where parsing stopped and what token it
found there; :func:`explain` looks at the lines around that point to say what was meant.
"""

from __future__ import annotations

import re

_LONGEST_ECHO = 200
"""A line is quoted back in a suggested fix only up to this length."""
_KEY = re.compile(r"(?:-\s+)*([^\s:{}\[\],#][^:{}\[\],#]*?):\s+(.*)$")
"""``[- ]key: rest`` at the start of a line."""


def explain(
    problem: str,
    context: str,
    opened: tuple[int, int] | None,
    text: str,
    line: int,
    column: int,
) -> str | None:
    """What a parse error at 0-based ``line``/``column`` of ``text`` means, or ``None`` for
    the errors without an explanation here. ``problem`` and ``context`` are the parser's, and
    ``opened`` is where the construct it was reading began."""
    lines = text.splitlines() or [""]
    current = lines[line] if line < len(lines) else ""
    at = current[column : column + 1]
    if "cannot start any token" in problem and at == "\t":
        return "a tab: YAML indents with spaces only; replace the tab with spaces"
    if problem.startswith("mapping values are not allowed"):
        return _colon_in_value(lines, line, column)
    if "while parsing a flow" in context and "expected ','" in problem:
        return _unclosed(context, opened)
    if at == "," and ("expected <block end>" in problem or "expected key" in problem):
        return (
            "text after a closed '{...}' or '[...]': put every option inside the brackets, "
            "e.g. conv2d: {filters: 32, kernel: 5}"
        )
    if "expected <block end>" in problem or "did not find expected" in problem:
        return _indentation(lines, line, "block collection" in context)
    return None


def _unclosed(context: str, opened: tuple[int, int] | None) -> str | None:
    """An unclosed ``{`` or ``[``, pointing back at where it was opened."""
    if opened is None:
        return None
    close = "}" if "mapping" in context else "]"
    start = "{" if close == "}" else "["
    where = f"line {opened[0] + 1}, column {opened[1] + 1}"
    return (
        f"expected ',' or '{close}': the '{start}' opened at {where} is not closed before "
        f"this point; separate its entries with ',' and close it with '{close}' "
        "(quote a value that holds ': ')"
    )


def _colon_in_value(lines: list[str], line: int, column: int) -> str:
    current = lines[line] if line < len(lines) else ""
    found = _KEY.match(current[:column].lstrip())
    if found is not None and len(current) > _LONGEST_ECHO:  # too long to quote back
        if "," in found.group(2):
            return (
                "',' and ': ' in a plain value: write several options in braces, "
                "{name: value, name: value}, or one per line indented under their key"
            )
        return "a second 'key:' on one line: put the inner mapping in braces or on lines of its own"
    if found is not None:
        key, before = found.group(1), found.group(2)
        rest = current[current.index(before, current.index(key) + len(key)) :].strip()
        if "," in before:
            return _options_on_one_line(key, rest)
        return (
            f"a second 'key:' on the line of '{key}:': write {key}: {{{rest}}}, or put "
            f"{rest} on its own line, indented under '{key}:'"
        )
    above = _previous(lines, line)
    if above is not None and _indent(current) > _indent(lines[above]):
        return (
            f"this line is indented more than line {above + 1}, so YAML reads it as the rest "
            f"of that line's value: indent it like line {above + 1}, or end line {above + 1} "
            "with ':' to nest it"
        )
    return "a ': ' inside a plain value: quote the value, or check the indentation"


def _options_on_one_line(key: str, rest: str) -> str:
    """``dense: 64, activation: relu`` -> ``dense: {units: 64, activation: relu}``."""
    parts = [p.strip() for p in rest.split(",")]
    if ":" not in parts[0]:
        field = _shorthand(key)
        if field is None:
            return (
                f"',' and ': ' in the value of '{key}': write its options in braces, "
                f"{key}: {{name: value, name: value}}, or one per line indented under '{key}:'"
            )
        parts[0] = f"{field}: {parts[0]}"
    fixed = f"{key}: {{{', '.join(parts)}}}"
    return (
        f"',' and ': ' in the value of '{key}': to give {key} several options write them in "
        f"braces, {fixed}, or one per line indented under '{key}:'"
    )


SHORTHAND_FIELDS: dict[str, str] = {}
"""Layer kind -> the field its scalar shorthand fills (``dense`` -> ``units``). The spec
language (:mod:`normspec.spec.models`) registers them: the loader sits below it."""


def _shorthand(kind: str) -> str | None:
    return SHORTHAND_FIELDS.get(kind)


def _indentation(lines: list[str], line: int, in_list: bool) -> str | None:
    if line >= len(lines):
        return None
    width = _indent(lines[line])
    levels = _levels(lines, line)
    if width in levels:
        if in_list:
            return (
                "expected a list item: at this indentation each line of the list starts "
                "with '- ', like the items above it (indent less to end the list)"
            )
        return None
    shown = ", ".join(str(n) for n in levels[-6:])
    plural = "" if width == 1 else "s"
    return (
        f"bad indentation: this line is indented {width} space{plural}, which lines up with "
        f"no enclosing level (those above it are at {shown}); indent it exactly like the keys "
        "or items it belongs with"
    )


def _levels(lines: list[str], line: int) -> list[int]:
    """The indentations still open at ``line``: each enclosing key's and list item's."""
    stack: list[int] = []
    for text in lines[:line]:
        body = text.strip()
        if not body or body.startswith("#"):
            continue
        width = _indent(text)
        while stack and stack[-1] > width:
            stack.pop()
        if not stack or stack[-1] < width:
            stack.append(width)
        item = re.match(r"(?:-\s+)+", body)
        if item is not None:
            stack.append(width + item.end())
    return stack


def _previous(lines: list[str], line: int) -> int | None:
    for index in range(line - 1, -1, -1):
        body = lines[index].strip()
        if body and not body.startswith("#"):
            return index
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))
