"""``normspec.layer_outputs``: every layer's output of a model of any framework, recorded by the
framework's own mechanism, on a model built from the emitted file as a user builds it."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec import reference
from normspec.backends import get_backend
from normspec.parity import TOLERANCE, error, parity_weights
from test_backends_shared import BACKENDS, available

SPEC = normspec.load(ROOT / "specs" / "digits_cnn.yaml")


def user_model(backend: str, tmp_path: Path) -> Any:
    """The model as a user makes it: the emitted file written, imported and constructed."""
    path = tmp_path / f"digits_cnn_{backend}.py"
    path.write_text(normspec.emit(SPEC, backend))
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if backend == "torch":
        return module.DigitsCnn()
    if backend == "keras":
        return module.build_digits_cnn()
    from flax import nnx

    return module.DigitsCnn(rngs=nnx.Rngs(0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_every_layer_output_matches_the_reference(backend: str, train: bool, tmp_path) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    model = user_model(backend, tmp_path)
    weights = parity_weights(SPEC, seed=3)
    get_backend(backend).set_weights(model, SPEC, weights)
    x = reference.init_batch(SPEC, 4, seed=4)
    expected, _ = reference.forward(SPEC, weights, x, train=train)
    outputs = normspec.layer_outputs(model, SPEC, x, train=train)
    assert set(outputs) == {op.name for op in SPEC.ops} | {"output"}
    for name, value in expected.items():
        assert error(outputs[name], value)[1] <= TOLERANCE["float32"], name
    assert np.array_equal(outputs["output"], outputs[SPEC.ops[-1].name])


NESTED = normspec.load("""
normspec: 1
name: nested
input: {shape: [6, 6, 2]}
layers:
  - conv2d: {filters: 3, padding: same, name: stem}
  - residual:
      name: outer
      body:
        - conv2d: {filters: 4, padding: same, strides: 2, norm: batch, activation: relu}
        - residual: {name: inner, body: [{conv2d: {filters: 4, padding: same}}]}
      shortcut: [{conv2d: {filters: 4, kernel: 1, strides: 2, name: projection}}]
  - flatten
  - dense: 3
""")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_ops_inside_residual_blocks_and_their_joins_are_captured(backend: str, train: bool) -> None:
    """Every node, two residuals deep too, and each residual's add, in graph order."""
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    model = normspec.build(NESTED, backend)
    weights = parity_weights(NESTED, seed=3)
    get_backend(backend).set_weights(model, NESTED, weights)
    x = reference.init_batch(NESTED, 4, seed=4)
    expected, _ = reference.forward(NESTED, weights, x, train=train)
    outputs = normspec.layer_outputs(model, NESTED, x, train=train)
    assert list(outputs) == [*(node.name for node in NESTED.nodes), "output"]
    assert {"inner_conv2d_1", "inner", "outer_conv2d_1_bn", "projection", "outer"} <= set(outputs)
    for name, value in expected.items():
        assert error(outputs[name], value)[1] <= TOLERANCE["float32"], name


def paths(state: Any) -> set[tuple[Any, ...]]:
    from flax import nnx

    return {path for path, _ in nnx.to_flat_state(state)}


def test_a_flax_model_called_outside_a_capture_keeps_no_intermediates() -> None:
    if not available("flax"):
        pytest.skip("flax is not installed")
    from flax import nnx

    model = normspec.build(SPEC, "flax")
    get_backend("flax").set_weights(model, SPEC, parity_weights(SPEC, seed=3))
    before = nnx.state(model)
    x = reference.init_batch(SPEC, 2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x)
        _, sown = nnx.capture(model, nnx.Intermediate)(x)
    assert not nnx.state(model, nnx.Intermediate)
    assert paths(nnx.state(model)) == paths(before)
    assert {str(name) for name in sown} == {op.name for op in SPEC.ops}


def test_a_model_of_no_framework_is_refused() -> None:
    with pytest.raises(TypeError, match="not a PyTorch, Keras or Flax model"):
        normspec.layer_outputs(object(), SPEC, np.zeros((1, 8, 8, 1), np.float32))


def test_the_readme_flax_capture_snippet_runs_verbatim() -> None:
    if not available("flax"):
        pytest.skip("flax is not installed")
    from flax import nnx

    readme = (ROOT / "README.md").read_text()
    snippet = next(b for b in readme.split("```python\n") if b.startswith("y, sown = nnx.capture"))
    model = normspec.build(SPEC, "flax")
    get_backend("flax").set_weights(model, SPEC, parity_weights(SPEC, seed=3))
    model.eval()  # running statistics, as layer_outputs' default
    x = reference.init_batch(SPEC, 2, seed=4)
    namespace: dict[str, Any] = {"nnx": nnx, "model": model, "x": x}
    exec(snippet.split("```")[0], namespace)
    expected = normspec.layer_outputs(model, SPEC, x)["conv2d_1_relu"]
    # eager here, compiled with nnx.jit in layer_outputs: equal up to float32 rounding
    assert error(np.asarray(namespace["relu_1"]), expected)[1] <= TOLERANCE["float32"]


SMALL_RESNET = normspec.load("""
normspec: 1
name: small_resnet
input: {shape: [8, 8, 3]}
defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
layers:
  - conv2d: {filters: 4, padding: 1}
  - residual_block: {filters: 4}
  - residual_block: {filters: 8, strides: 2}
  - global_avg_pool
  - dense: {units: 3, activation: linear, norm: none}
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_names_a_wrong_weight_inside_a_residual_block(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One kernel inside the second block is off in the built model: compare names that conv,
    inside its block, not the block or the output."""
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    from normspec.parity import compare

    runtime = importlib.import_module(f"normspec.backends.{backend}.runtime")
    original = runtime.set_weights
    wrong = "residual_block_2_conv2"

    def set_one_wrong(model: Any, spec: normspec.CanonicalSpec, weights: dict) -> None:
        weights = {**weights, f"{wrong}.kernel": weights[f"{wrong}.kernel"] * 1.01}
        original(model, spec, weights)

    monkeypatch.setattr(runtime, "set_weights", set_one_wrong)
    report = compare(SMALL_RESNET, [backend], modes=["eval"], batch=2)
    assert not report.ok
    assert report.comparisons[0].first_divergence == f"residual_block_2 > body > {wrong}"
