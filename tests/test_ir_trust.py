"""A canonical spec is checked by the IR itself, however it was made (YAML, ``model_validate``,
``model_copy``); emitters refuse unsafe names, derive class names that are never keywords or
builtins, and every emitted module parses."""

from __future__ import annotations

import ast
import builtins
import keyword
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import normspec
from conftest import ROOT
from normspec.backends import get_backend
from normspec.errors import BackendError, SpecError
from normspec.ir.graph import CanonicalSpec

BACKENDS = ["torch", "keras", "flax"]
MLP = ROOT / "specs" / "mlp.yaml"
INJECTION = "a = 1; __import__('os').system('touch x'); self.b"


def canonical_data() -> dict[str, Any]:
    return normspec.load(MLP).model_dump()


def set_path(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("name",), INJECTION),
        (("name",), "None"),
        (("nodes", 1, "op", "name"), INJECTION),
        (("nodes", 1, "op", "name"), "class"),
        (("nodes", 1, "op", "name"), "_private"),
        (("nodes", 1, "op", "name"), "forward"),
        (("nodes", 1, "op", "name"), "dense\u00e9"),
        (("nodes", 2, "op", "units"), 0),
        (("nodes", 2, "op", "units"), 1 << 30),
        (("nodes", 2, "op", "shape"), (-4,)),
        (("input", "shape"), (8, 0, 1)),
        (("train", "batch_size"), 1),
        (("train", "epochs"), 0),
        (("train", "validation_split"), 1.0),
        (("train", "optimizer", "learning_rate"), 1e308),
        (("train", "optimizer", "learning_rate"), 0.0),
        (("train", "optimizer", "beta1"), 1.0),
    ],
    ids=lambda v: str(v)[:24],
)
def test_model_validate_enforces_what_the_yaml_path_enforces(path: tuple, value: Any) -> None:
    data = canonical_data()
    CanonicalSpec.model_validate(data)  # the untouched data is valid
    set_path(data, path, value)
    with pytest.raises(ValidationError):
        CanonicalSpec.model_validate(data)


def unchecked(spec: CanonicalSpec, *, name: str | None = None, op: str | None = None) -> Any:
    """``spec`` with a name changed without validation (``model_copy`` does not validate)."""
    if name is not None:
        return spec.model_copy(update={"name": name})
    nodes = list(spec.nodes)
    renamed = nodes[1].op.model_copy(update={"name": op})
    nodes[1] = nodes[1].model_copy(update={"op": renamed})
    return spec.model_copy(update={"nodes": tuple(nodes)})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("where", ["spec", "op"])
def test_emitters_refuse_unsafe_names_that_skipped_validation(
    backend: str, where: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = normspec.load(MLP)
    bad = unchecked(spec, name=INJECTION) if where == "spec" else unchecked(spec, op=INJECTION)
    with pytest.raises(BackendError, match="cannot emit"):
        get_backend(backend).emit(bad)
    assert not (tmp_path / "x").exists()


def test_build_of_an_unsafe_spec_runs_nothing(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackendError):
        normspec.build(unchecked(normspec.load(MLP), op=INJECTION), "torch")
    assert list(tmp_path.iterdir()) == []


# --- names that validate must give code that parses --------------------------------------------

SPEC_NAMES = ["none", "true_", "false_", "none_", "type", "int", "object", "super", "print",
              "list_", "model", "nn", "torch", "jnp", "keras", "standardize", "rescale", "any",
              "cls", "a", "x1", "match", "case"]  # fmt: skip
LAYER_NAMES = ["print", "len", "super", "object", "int", "list", "match", "case", "jax_",
               "layer", "dense", "flatten", "cls", "h", "y", "out", "result", "Model"]  # fmt: skip


def spec_text(name: str, layer: str = "hidden") -> str:
    return (
        f"normspec: 1\nname: {name}\ninput: {{shape: [4], normalize: standardize}}\n"
        f"layers:\n  - dense: {{units: 3, name: {layer}, norm: {{kind: batch}}}}\n"
        "  - dense: {units: 2, activation: softmax}\n"
    )


def parses(source: str) -> ast.Module:
    return ast.parse(source)


def defined_classes(tree: ast.Module) -> list[str]:
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_valid_spec_name_gives_a_module_that_parses(backend: str, name: str) -> None:
    tree = parses(normspec.emit(spec_text(name), backend))
    for cls in defined_classes(tree):
        assert not keyword.iskeyword(cls) and cls not in dir(builtins), cls
    names = [n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)]
    assert len(names) == len(set(names)), names  # the model class clashes with no helper


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_every_valid_layer_name_gives_a_module_that_parses(backend: str, layer: str) -> None:
    parses(normspec.emit(spec_text("net", layer), backend))


@pytest.mark.parametrize("name", ["None", '"True"', '"False"', "class", "lambda", "import"])
def test_keyword_spec_names_are_refused_at_validation(name: str) -> None:
    with pytest.raises(SpecError) as info:
        normspec.load(spec_text(name))
    assert "not a Python keyword" in str(info.value.problems[0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_emits_a_module_that_parses(backend: str, spec: Path) -> None:
    parses(normspec.emit(spec, backend))


@pytest.mark.parametrize("backend", ["torch", "flax"])
def test_a_spec_called_none_builds_and_runs(backend: str) -> None:
    pytest.importorskip({"torch": "torch", "flax": "flax"}[backend])
    spec = normspec.load(spec_text("none"))
    model = get_backend(backend).build(spec)
    assert type(model).__name__ == "NoneModel"
