"""Small definitions the emitted Flax module contains when the spec needs them.

Initializers are tiny functions with the spec's numbers; custom modules exist only where no
stock ``nnx`` layer computes exactly what the IR says, or where the stock layer would fail on
weights users load themselves (``nnx.BatchNorm`` writes its running statistics in place).

The definitions are real code in :mod:`normspec.backends.flax.layers` (linted, type-checked and
tested there). This module never imports them, so emitting loads no framework: it reads each
module's file as text, parses it, and copies a definition's exact source (decorators, docstring
and comments included) into the generated file, in the order of :data:`HELPERS`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from normspec.backends.named_init import NAMED

NEEDS = {name: "uniform" if name.endswith("uniform") else "truncated_normal" for name in NAMED}
"""What each named initializer draws with."""

LAYERS = Path(__file__).parent / "layers"
"""The package of the definitions' modules."""


@dataclass(frozen=True)
class Helper:
    module: str
    """The module of :data:`LAYERS` that defines it (file name without ``.py``)."""
    needs: tuple[str, ...] = ()
    """Other helpers the source refers to."""


HELPERS: dict[str, Helper] = {
    "uniform": Helper("initializers"),
    "normal": Helper("initializers"),
    "truncated_normal": Helper("initializers"),
    "constant": Helper("initializers"),
    **{name: Helper("initializers", needs=(NEEDS[name],)) for name in NAMED},
    "BatchNorm": Helper("norms"),
    "UnbiasedBatchNorm": Helper("norms", needs=("BatchNorm",)),
    "InputStatistic": Helper("inputs"),
    "Standardize": Helper("inputs", needs=("InputStatistic",)),
    "Block": Helper("blocks"),
}
"""Every helper, in the order the module defines them."""


def closure(names: set[str]) -> list[str]:
    """``names`` and what they need, in :data:`HELPERS` order."""
    wanted = set(names)
    for name in list(wanted):
        wanted.update(HELPERS[name].needs)
    return [name for name in HELPERS if name in wanted]


def helper_source(name: str) -> str:
    return definitions(HELPERS[name].module)[name]


@cache
def definitions(module: str) -> dict[str, str]:
    """The source of every top-level function and class of ``layers/<module>.py``, by name: the
    whole lines from its first decorator (or ``def`` / ``class``) to its last line."""
    text = (LAYERS / f"{module}.py").read_text(encoding="utf-8")
    lines = text.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            span = ast.Pass(  # whole lines: a comment after the last statement is kept
                lineno=first,
                col_offset=0,
                end_lineno=node.end_lineno,
                end_col_offset=len(lines[node.end_lineno - 1].encode()),
            )
            segment = ast.get_source_segment(text, span)
            assert segment is not None
            found[node.name] = segment
    return found
