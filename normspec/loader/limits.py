"""The limits a spec must stay within, so no file can hang or exhaust the loader."""

from __future__ import annotations

from normspec.errors import SHOWN_CHARS, shown

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "MAX_SOURCE_BYTES",
    "MAX_TEXT",
    "SHOWN_CHARS",
    "shown",
]

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
