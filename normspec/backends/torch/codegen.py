"""The statement layout of the PyTorch emitter: brackets split onto one indented line where
that fits, as ``ruff format`` packs them (see :mod:`normspec.backends.codegen`)."""

from __future__ import annotations

from functools import partial

from normspec.backends.codegen import statement as _statement

statement = partial(_statement, pack=True)
"""``statement(prefix, value, suffix="", depth=2)``: lines of one statement of a method."""
