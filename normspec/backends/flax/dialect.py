"""How the Flax printers write a model: an ``nnx.Module`` whose layers are attributes built in
``__init__`` and called in ``__call__``, every top-level output sown as an
``nnx.Intermediate`` (which ``nnx.capture`` collects), one argument per line once a call does
not fit."""

from __future__ import annotations

from normspec.backends.codegen import Call, Raw, call
from normspec.backends.printing import Dialect

DTYPE = Raw("DTYPE")
"""The module constant holding the spec's dtype; every layer gets ``dtype=DTYPE``."""

MAX_NAME = 54
"""Longest attribute name kept as is: ``self.<name> = UnbiasedBatchNorm(`` then still fits
in a line of 88, so long names never force a layout that depends on ruff's line width."""

MODULE_ATTRIBUTES = frozenset(
    {"eval", "iter_children", "iter_modules", "perturb", "set_attributes", "sow", "train"}
)
"""Public attributes of ``nnx.Module`` (flax 0.12) that a layer attribute must not shadow."""


def _sow(name: str, variable: str) -> Call:
    return call("self.sow", Raw("nnx.Intermediate"), name, Raw(variable))


DIALECT = Dialect(
    depth=2,
    pack=False,
    branches={"body": "body", "shortcut": "shortcut"},
    attributes=True,
    capture=_sow,
)
