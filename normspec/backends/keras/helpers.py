"""Small custom layers the emitted Keras module defines when no stock layer is exact.

The code lives in the modules of :mod:`normspec.backends.keras.layers`, which are linted,
type-checked and tested as they are. This module reads them as text (emitting imports no
framework) and copies each definition the spec needs into the generated file (with the helpers
it requires), in the order of :data:`HELPERS`. Every class registers under ``PACKAGE`` (the
spec's name, defined by the generated module) so that saved ``.keras`` files load back, has a
``get_config`` covering its arguments, and takes the arguments of the stock layer it stands in
for.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

LAYERS = Path(__file__).parent / "layers"
"""The package of the custom layers' modules."""

OPTIONAL_IMPORTS = ("math", "ops")
"""What the emitted module imports only when a helper uses it (``keras`` and ``layers``
always)."""


@dataclass(frozen=True)
class Helper:
    source: str
    imports: frozenset[str]
    """Names the source uses from the module's optional imports: ``math``, ``ops``."""
    requires: frozenset[str] = frozenset()
    """Other helpers the source calls."""

    @property
    def is_class(self) -> bool:
        return self.source.lstrip().startswith("class ")


_REGISTER = "@keras.saving.register_keras_serializable(package=PACKAGE)\n"

DEFINITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "stock_arguments": (
        "arguments",
        ("padding_pairs", "spatial_pads", "image_data_format", "as_tuples"),
    ),
    "Standardize": ("norms", ("Standardize",)),
    "ExactRescaling": ("elementwise", ("ExactRescaling",)),
    "BatchNormUnbiased": ("norms", ("BatchNormUnbiased",)),
    "UnscaledRMSNormalization": ("norms", ("UnscaledRMSNormalization",)),
    "NegativeInfinityPadding": ("spatial", ("NegativeInfinityPadding",)),
    "AveragePoolingExcludingPadding": ("spatial", ("AveragePoolingExcludingPadding",)),
    "Subsample": ("spatial", ("Subsample",)),
    "GELU": ("elementwise", ("GELU",)),
    "ExactLeakyReLU": ("elementwise", ("ExactLeakyReLU",)),
    "BoundedTruncatedNormal": ("initializers", ("BoundedTruncatedNormal",)),
}
"""Helper name -> the module of :mod:`~.layers` and the top-level definitions it copies; every
definition of those modules belongs to one helper. The order is the emitted module's."""

_Definition = ast.FunctionDef | ast.ClassDef


def definitions(module: str) -> dict[str, tuple[_Definition, str]]:
    """The top-level functions and classes of ``layers/<module>.py``: each node and its exact
    text, decorators included (whole lines: what ``ast.get_source_segment`` gives for a
    top-level definition, without splitting the file again for each one)."""
    text = (LAYERS / f"{module}.py").read_text()
    lines = text.splitlines(keepends=True)
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            if lines[end - 1].encode()[node.end_col_offset :].strip():  # offsets: UTF-8 bytes
                raise ValueError(f"{module}.{node.name}: text after its end on its last line")
            found[node.name] = (node, "".join(lines[first - 1 : end]).rstrip("\n"))
    return found


def _used_names(nodes: list[_Definition]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _helpers() -> dict[str, Helper]:
    modules = {module: definitions(module) for module in {m for m, _ in DEFINITIONS.values()}}
    parts = {
        helper: [modules[module][name] for name in names]
        for helper, (module, names) in DEFINITIONS.items()
    }
    owner = {name: helper for helper, (_, names) in DEFINITIONS.items() for name in names}
    helpers = {}
    for helper, found in parts.items():
        used = _used_names([node for node, _ in found])
        helpers[helper] = Helper(
            "\n\n\n".join(text for _, text in found),
            frozenset(used.intersection(OPTIONAL_IMPORTS)),
            frozenset(owner[name] for name in used if name in owner) - {helper},
        )
    return helpers


HELPERS: dict[str, Helper] = _helpers()
"""Helper name -> its source, the optional imports it uses (``math``, ``ops``) and the helpers
whose definitions it calls; the emitted module defines them in this order."""


def with_requirements(name: str) -> set[str]:
    """``name`` and every helper it needs, directly or not."""
    needed, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in needed:
            needed.add(current)
            todo += HELPERS[current].requires
    return needed


def helper_source(name: str) -> str:
    """The definition; a class is decorated to register under the module's ``PACKAGE``."""
    helper = HELPERS[name]
    body = helper.source.strip("\n") + "\n"
    return _REGISTER + body if helper.is_class else body
