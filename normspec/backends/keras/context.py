"""State shared by the Keras op emitters while one builder function is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from normspec.backends.codegen import INDENT, OMIT, Call, Raw, call
from normspec.backends.keras.codegen import statement
from normspec.backends.keras.helpers import with_requirements
from normspec.backends.printing import BaseSite
from normspec.ir.graph import CanonicalSpec

DTYPE = Raw("DTYPE")
"""The module constant holding the spec's dtype: the input's dtype, and every layer's when it
is not Keras' default float32."""


class Names:
    """Keras layer names: every op keeps its own name; the few extra layers an op needs (a
    padding layer, a residual's add) get ``<op>_<suffix>``, numbered if that is taken."""

    def __init__(self, spec: CanonicalSpec) -> None:
        self._taken = {site.op.name for site in spec.walk()} | {"input"}

    def derived(self, base: str, suffix: str) -> str:
        name, n = f"{base}_{suffix}", 2
        while name in self._taken:
            name, n = f"{base}_{suffix}{n}", n + 1
        self._taken.add(name)
        return name


@dataclass
class Builder:
    """The body of the builder function being written, and what the module must define."""

    spec: CanonicalSpec
    names: Names
    lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)
    """Conventions the module docstring should explain (e.g. ``padding``)."""
    last_layer: str = ""

    @property
    def float64(self) -> bool:
        return self.spec.input.dtype == "float64"

    def helper(self, name: str) -> str:
        """Use a custom layer of :mod:`normspec.backends.keras.helpers` (and the helpers it
        requires); returns its name."""
        self.helpers |= with_requirements(name)
        return name

    def comment(self, text: str) -> None:
        self.lines.append(f"{INDENT}# {text}")


@dataclass
class Site(BaseSite):
    """Where one op is emitted (see :class:`~normspec.backends.printing.BaseSite`): a line of
    the builder function."""

    builder: Builder

    def layer(self, cls: str, name: str, *args: Any, **kwargs: Any) -> Call:
        """A layer constructor call ending in ``name=...``, then ``dtype=DTYPE`` in a float64
        spec. A float32 spec's layers take Keras' global dtype policy (float32 unless the user
        sets one, e.g. mixed_float16), which an explicit dtype would override."""
        dtype = DTYPE if self.builder.float64 else OMIT
        return call(cls, *args, **kwargs, name=name, dtype=dtype)

    def apply(self, layer: Call, inputs: str | None = None) -> None:
        """Emit ``dst = layer(inputs or src)``; later layers of the op then read ``dst``."""
        self.builder.lines += statement(f"{self.dst} = ", layer, f"({inputs or self.src})")
        self.builder.last_layer = dict(layer.args)["name"]
        self.src = self.dst
