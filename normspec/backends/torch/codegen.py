"""Source building blocks of the PyTorch emitter (:mod:`normspec.backends.codegen`), laid out
as ``ruff format`` packs them: brackets split onto one indented line where that fits."""

from __future__ import annotations

from functools import partial

from normspec.backends.codegen import INDENT, LINE_LENGTH, OMIT, Call, Raw, call, literal
from normspec.backends.codegen import statement as _statement

statement = partial(_statement, pack=True)
"""``statement(prefix, value, suffix="", depth=2)``: lines of one statement of a method."""

__all__ = ["INDENT", "LINE_LENGTH", "OMIT", "Call", "Raw", "call", "literal", "statement"]
