"""Layers that read other layers by name (``inputs:``) and ``add`` in the spec language: the
graph they lower to, the same outputs in every backend, and every mistake located with a
did-you-mean."""

from __future__ import annotations

import pytest

import normspec
from normspec.backends import get_backend
from normspec.errors import SpecError
from normspec.ir.nodes import INPUT
from parity_cases import check_against_reference
from test_backends_shared import BACKENDS, available

HEAD = "normspec: 1\nname: wired\ninput: {shape: [8, 8, 3], dtype: DTYPE}\nlayers:\n"
LAYERS = """\
  - conv2d: {filters: 4, padding: same, name: stem, activation: relu}
  - conv2d: {filters: 4, padding: same, name: branch_a, norm: batch}
  - conv2d: {filters: 4, padding: same, name: branch_b, inputs: stem}
  - add: [branch_a, branch_b, stem]
  - global_avg_pool
  - dense: {units: 3, activation: softmax}
"""


def wired(layers: str = LAYERS, dtype: str = "float32") -> normspec.ir.CanonicalSpec:
    return normspec.load(HEAD.replace("DTYPE", dtype) + layers)


def problems_of(layers: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        wired(layers)
    return [str(p) for p in info.value.problems]


def test_inputs_and_add_lower_to_a_graph() -> None:
    spec = wired()
    assert [(n.name, n.inputs) for n in spec.nodes][:6] == [
        ("stem", (INPUT,)),
        ("stem_relu", ("stem",)),
        ("branch_a", ("stem_relu",)),
        ("branch_a_bn", ("branch_a",)),
        ("branch_b", ("stem_relu",)),  # a layer's name reads its output: after its activation
        ("add_1", ("branch_a_bn", "branch_b", "stem_relu")),
    ]
    assert spec.version1_hash is None  # version 1 could not write it


def test_input_names_the_spec_input_after_its_normalization() -> None:
    spec = normspec.load(
        "normspec: 1\ninput: {shape: [6], normalize: standardize}\nlayers:\n"
        "  - dense: {units: 6, name: d}\n  - add: [d, input]\n  - dense: 2\n"
    )
    assert spec.nodes[2].inputs == ("d", "input_norm")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_backend_gives_the_reference_outputs(backend: str, dtype: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    check_against_reference(get_backend(backend), wired(dtype=dtype))


# (case, (old, new) replaced once in LAYERS, expected "<line>:<col>: <path>: <fragment>")
BAD = [
    ("unknown name", ("inputs: stem", "inputs: stme"), "7:65: layers[2].conv2d.inputs: unknown layer 'stme' (did you mean 'stem'?)"),
    ("unknown in add", ("[branch_a, branch_b, stem]", "[branch_a, branch_b, pool]"), "8:31: layers[3].add[2]: unknown layer 'pool'"),
    ("read of a later layer", ("inputs: stem", "inputs: head"), "layers[2].conv2d.inputs: 'head' is a later layer: a layer reads only layers before it"),
    ("itself", ("inputs: stem", "inputs: branch_b"), "layers[2].conv2d.inputs: the layer 'branch_b' cannot read itself"),
    ("shapes", ("inputs: stem}", "inputs: stem, strides: 2}"), "8:10: layers[3].add: add of shapes that do not fit: branch_a_bn gives (8, 8, 4), branch_b gives (4, 4, 4), stem_relu gives (8, 8, 4)"),
    ("one input to add", ("[branch_a, branch_b, stem]", "[branch_a]"), "layers[3].add.inputs: list should have at least 2 items"),
    ("two into a conv", ("inputs: stem}", "inputs: [stem, branch_a]}"), "layers[2].conv2d.inputs: conv2d reads one input; join several with add first"),
    ("never read", ("[branch_a, branch_b, stem]", "[branch_b, stem]"), "6:13: layers[1].conv2d: the output of 'branch_a' is never read"),
    ("multiply shapes", ("  - add: [branch_a, branch_b, stem]", "  - global_avg_pool: {name: g}\n  - dense: {units: 3, name: d}\n  - multiply: [branch_a, d]\n  - add: [branch_a, branch_b, stem, multiply_1]"), "layers[5].multiply: multiply of shapes that do not fit: branch_a_bn gives (8, 8, 4), d gives (3,) (a multiply reads values of one shape, and per-channel gates (C,))"),
    ("concat shapes", ("add: [branch_a, branch_b, stem]", "concat: [branch_a, input]\n  - max_pool2d: {pool: 2, name: p}\n  - concat: [p, stem]\n  - add: [concat_1, branch_b, stem]"), "layers[5].concat: concat of shapes that do not fit: p gives (4, 4, 7), stem_relu gives (8, 8, 4)"),
    ("inside a residual", ("  - global_avg_pool\n", "  - residual: {body: [{activation: {function: relu, inputs: stem}}]}\n  - global_avg_pool\n"), "layers[4].residual.body[0].activation.inputs: inputs: only layers of the top-level list"),
]  # fmt: skip


@pytest.mark.parametrize(("old_new", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_wrong_wiring_is_refused_where_it_is_written(
    old_new: tuple[str, str], expected: str
) -> None:
    old, new = old_new
    layers = LAYERS.replace(old, new, 1)
    if "head" in new:
        layers = layers.replace("activation: softmax}", "activation: softmax, name: head}")
    assert layers != LAYERS
    problems = problems_of(layers)
    assert any(expected in p for p in problems), problems
