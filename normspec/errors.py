"""Errors that point at the spec: ``FILE:LINE:COL: path.to.field: message``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]
SHOWN_CHARS = 60
"""User values quoted in messages are cut to about this many characters."""


def shown(value: object) -> str:
    """``repr`` of a user value, cut to about :data:`SHOWN_CHARS` characters (with its
    length): every value a message quotes goes through here, so no message grows with it."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[: SHOWN_CHARS - 5]}…{text[-4:]} ({len(str(value)):,} characters)"


def format_path(path: Sequence[PathPart]) -> str:
    """``("layers", 3, "conv2d", "filters")`` -> ``layers[3].conv2d.filters``; a key too long
    to show is cut (see :func:`shown`)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if len(part) <= SHOWN_CHARS else shown(part)
            out += f".{text}" if out else text
    return out or "<root>"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a named source."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, with where it is; for a problem inside a block of the
    spec language, each use it was found in (``in the use at spec.yaml:27:11: layers[5].gate
    with channels=5``), innermost first."""

    location: Location
    path: Path
    message: str
    uses: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The message, with the uses it was found in."""
        return self.message + "".join(f" ({use})" for use in self.uses)

    def __str__(self) -> str:
        return f"{self.location}: {format_path(self.path)}: {self.text}"


class NormspecError(Exception):
    """Base class of every error normspec raises on purpose."""


class SpecError(NormspecError, ValueError):
    """A spec is invalid. ``problems`` lists every problem found, in source order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.location, format_path(p.path)))
        super().__init__("\n".join(str(p) for p in self.problems))


class BackendError(NormspecError):
    """A backend cannot do what was asked (missing framework, unsupported op or option)."""


class WeightsError(NormspecError):
    """A weights file does not fit the spec it is loaded for."""


class ResourceError(NormspecError):
    """Work would need more memory than the limit allows (see :mod:`normspec.resources`)."""
