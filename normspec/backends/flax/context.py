"""State shared by the Flax op emitters while one ``nnx.Module`` class is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from normspec.backends.codegen import INDENT, Call, Raw, call
from normspec.backends.flax.codegen import statement
from normspec.backends.printing import BaseSite
from normspec.ir.graph import CanonicalSpec

DTYPE = Raw("DTYPE")
"""The module constant holding the spec's dtype; every layer gets ``dtype=DTYPE``."""

MAX_NAME = 54
"""Longest attribute name kept as is: ``self.<name> = UnbiasedBatchNorm(`` then still fits
in a line of 88, so long names never force a layout that depends on ruff's line width."""

MODULE_ATTRIBUTES = frozenset(
    {"eval", "iter_children", "iter_modules", "perturb", "set_attributes", "sow", "train"}
)
"""Public attributes of ``nnx.Module`` (flax 0.12) that a layer attribute must not shadow."""


class Names:
    """The attribute (and the name its output is sown under) of every op: its own name, unless
    that is too long or an ``nnx.Module`` attribute; then a shortened or suffixed name no other
    op uses."""

    def __init__(self, spec: CanonicalSpec) -> None:
        ops = [site.op.name for site in spec.walk()]
        self._taken = set(ops) | MODULE_ATTRIBUTES
        self.short = {name: self._choose(name) for name in ops}

    def _choose(self, name: str) -> str:
        if len(name) <= MAX_NAME and name not in MODULE_ATTRIBUTES:
            return name
        base = name[: MAX_NAME - 8] + "_layer"  # room for a two-digit number
        candidate, n = base, 2
        while candidate in self._taken:
            candidate, n = f"{base}{n}", n + 1
        self._taken.add(candidate)
        return candidate


@dataclass
class Builder:
    """The bodies of ``__init__`` and ``__call__`` being written, and what the module must
    define around the class."""

    spec: CanonicalSpec
    names: Names
    init_lines: list[str] = field(default_factory=list)
    call_lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)
    """Conventions the module docstring should explain (``batch_norm``, ``flatten``, ...)."""

    @property
    def float64(self) -> bool:
        return self.spec.input.dtype == "float64"

    def helper(self, name: str) -> str:
        """Use a definition of :mod:`normspec.backends.flax.helpers`; returns its name."""
        self.helpers.add(name)
        return name

    def comment(self, text: str) -> None:
        self.call_lines.append(f"{INDENT * 2}# {text}")


@dataclass
class Site(BaseSite):
    """Where one op is emitted: it reads variable ``src`` and assigns its result to ``dst``;
    at the top level (``sow`` set) the result is also sown as an ``nnx.Intermediate`` under
    that name, which ``nnx.capture`` collects."""

    builder: Builder
    sow: str | None = None

    @property
    def x(self) -> Raw:
        """The op's input variable."""
        return Raw(self.src)

    def layer(self, name: str, module: Call) -> None:
        """``self.<attr> = module`` in ``__init__``; ``dst = self.<attr>(src)`` in the call."""
        attr = self.builder.names.short[name]
        self.builder.init_lines += statement(f"self.{attr} = ", module)
        self.result(call(f"self.{attr}", self.x))

    def result(self, value: Any, suffix: str = "") -> None:
        """``dst = value + suffix``, the op's output; what follows reads ``dst``. At the top
        level it is followed by ``self.sow(nnx.Intermediate, "<name>", dst)``."""
        self.builder.call_lines += statement(f"{self.dst} = ", value, suffix)
        if self.sow is not None:
            sow = call("self.sow", Raw("nnx.Intermediate"), self.sow, Raw(self.dst))
            self.builder.call_lines += statement("", sow)
        self.src = self.dst
