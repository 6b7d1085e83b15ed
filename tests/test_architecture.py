"""The package's import structure, read statically from every module: one direction, no cycles,
the core free of frameworks. Imports under ``if TYPE_CHECKING:`` are for annotations only and
are not counted; imports inside functions (lazy imports) are."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "normspec"
FRAMEWORKS = {"torch", "tensorflow", "keras", "jax", "jaxlib", "flax", "optax", "h5py"}
CORE = ("normspec.ir", "normspec.spec", "normspec.loader")
"""Layers below the backends and runs: they import no framework, not even lazily."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), outside ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                assert package is not None or path.name == "__init__.py", path
                anchor = module_name(path) if path.name == "__init__.py" else package
                assert anchor is not None
                up = anchor.split(".")[: len(anchor.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    name: {m for m in imports_of(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def _parents(name: str) -> set[str]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too: not a dependency of
    interest (package ``__init__`` files only re-export)."""
    parts = name.split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts))}


def test_backends_never_import_run() -> None:
    offenders = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith("normspec.backends")
        for target in targets
        if target.startswith("normspec.run")
    }
    assert offenders == set()


@pytest.mark.parametrize("layer", CORE)
def test_the_core_never_imports_a_framework(layer: str) -> None:
    offenders = {
        (name, target)
        for name, path in MODULES.items()
        if name.startswith(layer)
        for target in imports_of(path)
        if target.split(".")[0] in FRAMEWORKS
    }
    assert offenders == set()


@pytest.mark.parametrize("layer", CORE)
def test_the_core_never_imports_backends_or_runs(layer: str) -> None:
    above = ("normspec.backends", "normspec.run", "normspec.cli", "normspec.parity")
    offenders = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith(layer)
        for target in targets
        if target.startswith(above)
    }
    assert offenders == set()


def find_cycle() -> list[str] | None:
    edges = {n: {t for t in ts if t not in _parents(n)} for n, ts in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target.endswith("__init__") or target == "normspec":
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles_between_modules() -> None:
    """Packages count as modules: importing ``normspec.loader`` runs its ``__init__``."""
    assert find_cycle() is None


def test_the_cycle_finder_finds_cycles() -> None:
    saved = {k: set(v) for k, v in GRAPH.items()}
    try:
        GRAPH["normspec.ir.ops"].add("normspec.ir.graph")
        assert find_cycle() is not None
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
