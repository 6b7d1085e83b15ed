"""The statement layout of the Flax emitter: one argument per line once a layer call does not
fit (see :mod:`normspec.backends.codegen`)."""

from __future__ import annotations

from typing import Any

from normspec.backends.codegen import statement as _statement


def statement(prefix: str, value: Any, suffix: str = "", depth: int = 2) -> list[str]:
    """Lines of one statement of a method (``depth`` 2)."""
    return _statement(prefix, value, suffix, depth, pack=False)
