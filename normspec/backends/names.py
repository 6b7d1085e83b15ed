"""Names the emitters print, made safe in one place: every op name and the spec name are checked
before any source is written (a spec built in Python with ``model_construct`` skips
validation), class names are derived so that no keyword or builtin results, and every emitted
module is parsed before it is handed out."""

from __future__ import annotations

import ast
import builtins
import keyword
from collections.abc import Iterable

from normspec.errors import BackendError
from normspec.ir.constraints import RESERVED_NAMES, is_identifier
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import uses_of

BUILTIN_NAMES = frozenset(dir(builtins))


def check_names(spec: CanonicalSpec, backend: str) -> None:
    """Refuse a spec whose name or op names are not safe identifiers, whatever built it."""
    if not is_identifier(spec.name):
        raise BackendError(f"{backend} backend cannot emit spec name {spec.name!r}: {_WHY}")
    for node in spec.nodes:
        for name in (node.op.name, *(use[-2] for use in uses_of(node.scope))):
            if not is_identifier(name) or name in RESERVED_NAMES:
                raise BackendError(f"{backend} backend cannot emit op name {name!r}: {_WHY}")


_WHY = "names must be ASCII identifiers, not keywords and not names the generated code uses"


def class_name(spec: CanonicalSpec, taken: Iterable[str]) -> str:
    """``cifar_cnn`` -> ``CifarCnn``; ``...Model`` when the result would be a keyword
    (``none`` -> ``NoneModel``), a builtin (``type_`` -> ``TypeModel``) or a name in
    ``taken`` (the module's own definitions and imports)."""
    name = "".join(part[:1].upper() + part[1:] for part in spec.name.split("_"))
    if not name.isidentifier():  # an all-underscore or digit-led remainder
        return "Model"
    if keyword.iskeyword(name) or name in BUILTIN_NAMES or name in set(taken):
        return name + "Model"
    return name


def parsed(source: str, backend: str) -> str:
    """``source`` if it parses as Python; a :class:`BackendError` otherwise (a bug in
    normspec, reported rather than handed to the user as a broken file)."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise BackendError(
            f"{backend} backend produced code that does not parse (line {exc.lineno}: "
            f"{exc.msg}); please report this with the spec"
        ) from None
    return source


class Names:
    """The attribute of every op's layer (and the name its output is captured under), and names
    for the extra layers an op needs. An op keeps its own name unless it is longer than
    ``max_length`` or in ``reserved`` (names of the framework's module class); then it gets a
    shortened or suffixed name no other op uses. ``taken`` are further names extra layers
    must not take."""

    def __init__(
        self,
        spec: CanonicalSpec,
        *,
        reserved: frozenset[str] = frozenset(),
        taken: frozenset[str] = frozenset(),
        max_length: int | None = None,
    ) -> None:
        ops = [node.op.name for node in spec.nodes]
        ops += dict.fromkeys(use[-2] for node in spec.nodes for use in uses_of(node.scope))
        self._reserved, self._max_length = reserved, max_length
        self._taken = set(ops) | reserved | taken
        self.short = {name: self._choose(name) for name in ops}

    @classmethod
    def local(cls, ops: Iterable[str]) -> Names:
        """The names of a block's class: every op keeps its (local) name."""
        names = cls.__new__(cls)
        names._reserved, names._max_length = frozenset(), None
        names.short = {name: name for name in ops}
        names._taken = set(names.short)
        return names

    def _choose(self, name: str) -> str:
        limit = self._max_length
        if (limit is None or len(name) <= limit) and name not in self._reserved:
            return name
        base = name[: (limit or len(name) + 8) - 8] + "_layer"  # room for a two-digit number
        candidate, n = base, 2
        while candidate in self._taken:
            candidate, n = f"{base}{n}", n + 1
        self._taken.add(candidate)
        return candidate

    def derived(self, base: str, suffix: str) -> str:
        """``<base>_<suffix>`` for an extra layer of op ``base``, numbered if that is taken."""
        name, n = f"{base}_{suffix}", 2
        while name in self._taken:
            name, n = f"{base}_{suffix}{n}", n + 1
        self._taken.add(name)
        return name
