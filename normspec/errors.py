"""Errors that point at the spec: ``FILE:LINE:COL: path.to.field: message``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]


def format_path(path: Sequence[PathPart]) -> str:
    """``("layers", 3, "conv2d", "filters")`` -> ``layers[3].conv2d.filters``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
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
    """One thing wrong with a spec, with where it is."""

    location: Location
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {format_path(self.path)}: {self.message}"


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
