"""The statement layout of the Keras emitter: one argument per line once a layer call does not
fit, the way Keras code is written by hand (see :mod:`normspec.backends.codegen`)."""

from __future__ import annotations

from typing import Any

from normspec.backends.codegen import statement as _statement


def statement(prefix: str, value: Any, suffix: str = "", depth: int = 1) -> list[str]:
    """Lines of one statement of the builder function (``depth`` 1)."""
    return _statement(prefix, value, suffix, depth, pack=False)
