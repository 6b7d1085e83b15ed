"""Parsed YAML data with the location of every node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from normspec.errors import Location, Path, Problem


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
