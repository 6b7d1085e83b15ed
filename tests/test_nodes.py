"""The graph view of the canonical spec (:mod:`normspec.ir.nodes`): nodes in dependency order,
each reading named values; a residual is its branches' nodes and an ``add`` carrying its name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec.ir import ops as ir
from normspec.ir.graph import weight_specs
from normspec.ir.nodes import INPUT
from normspec.reference import forward, init_batch, node_values
from normspec.reference._core import Context
from normspec.weights import init_weights

SPECS = sorted((ROOT / "specs").glob("*.yaml"))

PROJECTED = """
normspec: 1
name: projected
input: {shape: [6, 6, 2], dtype: float64}
layers:
  - conv2d: {filters: 3, kernel: 3, padding: 1, name: stem}
  - residual:
      name: block
      body: [{conv2d: {filters: 4, kernel: 3, strides: 2, padding: 1, name: inner}}]
      shortcut: [{conv2d: {filters: 4, kernel: 1, strides: 2, name: projection}}]
  - residual: {name: identity, body: [{activation: relu}]}
  - flatten: {name: flat}
"""


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_nodes_are_in_dependency_order_with_unique_names(path: Path) -> None:
    spec = normspec.load(path)
    seen = {INPUT: spec.input.shape}
    for node in spec.nodes:
        assert node.name not in seen
        assert tuple(seen[name] for name in node.inputs) == node.input_shapes
        seen[node.name] = node.shape
    assert spec.output_name == spec.ops[-1].name
    assert {s.op.name for s in spec.nodes} == set(seen) - {INPUT}


def test_a_residual_is_its_branches_and_an_add_with_its_name() -> None:
    spec = normspec.load(PROJECTED)
    view = [(n.name, n.op.op, n.inputs, n.depth) for n in spec.nodes]
    relu = next(n.name for n in spec.nodes if n.op.op == "activation")
    assert view == [
        ("stem", "conv2d", (INPUT,), 0),
        ("inner", "conv2d", ("stem",), 1),
        ("projection", "conv2d", ("stem",), 1),
        ("block", "add", ("inner", "projection"), 0),
        (relu, "activation", ("block",), 1),
        ("identity", "add", (relu, "block"), 0),
        ("flat", "flatten", ("identity",), 0),
    ]
    block = spec.nodes[3]
    assert isinstance(block.op, ir.Add) and block.input_shapes == ((3, 3, 4), (3, 3, 4))
    assert spec.nodes[1].input_shape == (6, 6, 3)
    # Weight keys stay the ops' own: no key names a join.
    assert {w.key.split(".")[0] for w in weight_specs(spec)} == {"stem", "inner", "projection"}


def test_the_reference_runs_the_view() -> None:
    """The residual's value is its body's plus its shortcut's, the projection computed here by
    hand from the stem's value; an identity shortcut adds the residual's input."""
    spec = normspec.load(PROJECTED)
    weights = init_weights(spec, seed=0)
    x = init_batch(spec, 2, seed=0)
    outputs, _ = forward(spec, weights, x, train=False)
    assert list(outputs) == [*(node.name for node in spec.nodes), "output"]
    ctx = Context({k: np.asarray(v, np.float64) for k, v in weights.items()}, train=False)
    values = node_values(spec, x, ctx)
    for name, value in outputs.items():
        np.testing.assert_array_equal(value, values[spec.output_name if name == "output" else name])
    projection = weights["projection.kernel"][0, 0]
    shortcut = outputs["stem"][:, ::2, ::2, :] @ projection + weights["projection.bias"]
    np.testing.assert_allclose(outputs["block"], values["inner"] + shortcut, rtol=1e-12)
    block = outputs["block"]
    np.testing.assert_allclose(outputs["identity"], np.maximum(block, 0) + block, rtol=1e-12)
    np.testing.assert_array_equal(outputs["output"], outputs["flat"])


def _rewired(spec: normspec.ir.CanonicalSpec, index: int, **changes: object) -> dict:
    data = spec.model_dump()
    data["nodes"][index].update(changes)
    return data


@pytest.mark.parametrize(
    ("index", "changes", "message"),
    [
        (1, {"inputs": ("nowhere",)}, "reads 'nowhere', which no node before it computes"),
        (1, {"inputs": ("flat",)}, "reads 'flat', which no node before it computes"),
        (1, {"input_shapes": ((6, 6, 4),)}, r"reads 'stem' as \(6, 6, 4\)"),
        (3, {"inputs": ("inner",), "input_shapes": ((3, 3, 4),)}, "add reads two or more values"),
        (1, {"inputs": ("stem", "stem"), "input_shapes": ((6, 6, 3),) * 2}, "reads one value"),
        (1, {"scope": ("stem", "body")}, "is not pairs of an add and a branch"),
        (1, {"scope": ("block", "side")}, "of the use 'block' is not named block_"),
    ],
    ids=["unknown", "later", "shape", "add-one", "conv-two", "scope-not-add", "scope-branch"],
)
def test_a_canonical_graph_that_does_not_fit_together_is_refused(
    index: int, changes: dict, message: str
) -> None:
    """The canonical spec checks its wiring itself, however it was made."""
    spec = normspec.load(PROJECTED)
    normspec.ir.CanonicalSpec.model_validate(spec.model_dump())  # the untouched data is valid
    with pytest.raises(ValueError, match=message):
        normspec.ir.CanonicalSpec.model_validate(_rewired(spec, index, **changes))


def test_a_second_value_of_one_name_is_refused() -> None:
    data = normspec.load(PROJECTED).model_dump()
    data["nodes"][1]["op"]["name"] = "stem"
    with pytest.raises(ValueError, match="node 'stem': a second value of that name"):
        normspec.ir.CanonicalSpec.model_validate(data)
