"""The emitted Keras module defines the custom layers exactly as the modules of
normspec.backends.keras.layers do (whose behaviour test_keras_layers.py tests), each with what
it needs and nothing the emitted module lacks."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
from typing import Any

import pytest

from normspec.backends.keras.helpers import (
    DEFINITIONS,
    HELPERS,
    LAYERS,
    OPTIONAL_IMPORTS,
    definitions,
    helper_source,
    with_requirements,
)
from parity_cases import make_spec

ALWAYS_IMPORTED = {"keras", "layers"}
MODULE_CONSTANTS = {"DTYPE", "PACKAGE"}
REGISTER = "keras.saving.register_keras_serializable(package=PACKAGE)"


def test_every_definition_of_the_layers_modules_is_one_helpers() -> None:
    modules = sorted(p.stem for p in LAYERS.glob("*.py") if p.stem != "__init__")
    listed = [(module, name) for module, names in DEFINITIONS.values() for name in names]
    assert len(set(listed)) == len(listed)
    assert sorted(listed) == sorted((m, name) for m in modules for name in definitions(m))
    assert list(DEFINITIONS) == list(HELPERS)


def _free_names(tree: ast.AST) -> set[str]:
    """Names ``tree`` reads and does not bind itself."""
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound


@pytest.mark.parametrize("name", list(HELPERS))
def test_a_helper_reads_only_what_the_emitted_module_defines_with_it(name: str) -> None:
    helper = HELPERS[name]
    assert helper.imports <= set(OPTIONAL_IMPORTS)
    required = with_requirements(name) - {name}
    given = {n for r in required for n in DEFINITIONS[r][1]}
    allowed = set(dir(builtins)) | ALWAYS_IMPORTED | MODULE_CONSTANTS | helper.imports | given
    free = _free_names(ast.parse(helper_source(name)))
    assert free <= allowed, f"{name} reads {sorted(free - allowed)}"
    assert not helper.imports - free, f"{name} imports what it does not use"
    assert all(set(DEFINITIONS[r][1]) & free for r in helper.requires), "a helper unused"


def test_classes_are_registered_and_functions_are_not() -> None:
    for name, helper in HELPERS.items():
        tree = ast.parse(helper_source(name))
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        assert helper.is_class == bool(classes)
        for node in tree.body:
            assert isinstance(node, ast.FunctionDef | ast.ClassDef)
            decorators = [ast.unparse(d) for d in node.decorator_list]
            assert decorators == ([REGISTER] if isinstance(node, ast.ClassDef) else [])


def _without_decorators(node: ast.AST) -> str:
    assert isinstance(node, ast.FunctionDef | ast.ClassDef)
    node.decorator_list = []
    return ast.dump(node)


@pytest.mark.keras
def test_the_emitted_module_defines_the_package_layers_as_they_are() -> None:
    keras = pytest.importorskip("keras")
    from test_keras_backend import ALL_WEIGHTS, FLAT, ODD

    from normspec.backends.keras import BACKEND

    emitted: dict[str, ast.AST] = {}
    for spec in (
        make_spec(ODD, ALL_WEIGHTS, "standardize", "float64", name="layers_a"),
        make_spec(FLAT, "- dense: 2", "{kind: rescale, scale: 0.5}", "float64", name="layers_b"),
    ):
        source = BACKEND.emit(spec)
        namespace: dict[str, Any] = {"__name__": f"custom_{spec.name}"}
        exec(compile(source, spec.name, "exec"), namespace)
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef):
                registered = keras.saving.get_registered_name(namespace[node.name])
                assert registered == f"{spec.name}>{node.name}"
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                emitted[node.name] = node
    for name, (module, names) in DEFINITIONS.items():
        package = importlib.import_module(f"normspec.backends.keras.layers.{module}")
        for definition in names:
            assert definition in emitted, f"{name}: {definition} not emitted"
            # inspect reads the package module's own file: not helpers.py's reading of it.
            own = ast.parse(inspect.getsource(getattr(package, definition))).body[0]
            assert _without_decorators(emitted[definition]) == _without_decorators(own)
