"""The canonical form, format version 2: every spec's canonical text reads back to the same
spec; a hand-edited graph that does not fit together is refused with located problems; files
of version 1 (specs, canonical forms, weight files) stay readable."""

from __future__ import annotations

import pytest

import normspec
from conftest import ROOT, SPECS
from normspec.errors import SpecError
from normspec.ir.serialize import to_data_v1, to_yaml

V1 = ROOT / "tests" / "data" / "v1"

SMALL = """\
normspec: 2
name: small
input: {shape: [6, 6, 2], dtype: float32}
nodes:
- conv2d:
    name: stem
    inputs: [input]
    filters: 2
    kernel: [3, 3]
    strides: [1, 1]
    padding: [[1, 1], [1, 1]]
    dilation: [1, 1]
    groups: 1
    use_bias: true
    kernel_init: {distribution: uniform, low: -0.1, high: 0.1}
    bias_init: {distribution: constant, value: 0.0}
    shape: [6, 6, 2]
    params: 38
- activation: {name: relu, inputs: [stem], scope: [block, body], function: relu, shape: [6, 6, 2], params: 0}
- add: {name: block, inputs: [relu, stem], shape: [6, 6, 2], params: 0}
- flatten: {name: flat, inputs: [block], shape: [72], params: 0}
train:
  loss: mean_squared_error
  optimizer: {kind: sgd, learning_rate: 0.01, momentum: 0.0, nesterov: false}
  batch_size: 8
  epochs: 1
  seed: 0
  validation_split: 0.2
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        normspec.load(text)
    return [str(p) for p in info.value.problems]


def test_a_hand_written_graph_loads() -> None:
    spec = normspec.load(SMALL)
    assert [(n.name, n.inputs, n.depth) for n in spec.nodes] == [
        ("stem", ("input",), 0),
        ("relu", ("stem",), 1),
        ("block", ("relu", "stem"), 0),
        ("flat", ("block",), 0),
    ]
    assert normspec.load(to_yaml(spec)) == spec


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_the_canonical_form_reads_back_through_the_graph_reader(path) -> None:
    spec = normspec.load(path)
    text = to_yaml(spec)
    assert text.splitlines()[1] == "normspec: 2"
    assert normspec.load(text) == spec
    joined = any(f"- {kind}:" in path.read_text() for kind in ("add", "multiply", "concat"))
    assert (spec.version1_hash is None) == joined  # a chain with residuals has a version-1 form


# (case, (old, new) replaced once in SMALL, expected "<line>:<col>: <path>: <fragment>")
FLAT = "- flatten: {name: flat, inputs: [block], shape: [72], params: 0}"
CONV_ON_FLAT = (
    "\n- conv2d: {name: c2, inputs: [flat], filters: 2, kernel: [3, 3], strides: [1, 1], "
    "padding: [[1, 1], [1, 1]], dilation: [1, 1], groups: 1, use_bias: true, kernel_init: "
    "{distribution: uniform, low: -0.1, high: 0.1}, bias_init: {distribution: constant, "
    "value: 0.0}, shape: [6, 6, 2], params: 38}"
)

BAD = [
    ("a value of a rank the op cannot read", (FLAT, FLAT + CONV_ON_FLAT), "22:30: nodes[4].conv2d.inputs: a conv2d node cannot read a value of shape (72,)"),
    ("unknown op", ("- flatten: {", "- flaten: {"), "21:3: nodes[3]: unknown op 'flaten' (did you mean 'flatten'?)"),
    ("unknown input", ("inputs: [block]", "inputs: [blok]"), "nodes[3].flatten.inputs[0]: 'blok' is not computed before this node (did you mean 'block'?)"),
    ("later input", ("inputs: [stem], scope", "inputs: [flat], scope"), "nodes[1].activation.inputs[0]: 'flat' is not computed before this node"),
    ("missing inputs", ("    inputs: [input]\n", ""), "nodes[0].conv2d: inputs: the names of the values"),
    ("declared shape", ("shape: [72]", "shape: [70]"), "nodes[3].flatten.shape: declared (70,) but its inputs give (72,)"),
    ("declared params", ("params: 38", "params: 36"), "nodes[0].conv2d.params: declared 36 params but inferred 38"),
    ("strict type", ("filters: 2", "filters: 2.0"), "nodes[0].conv2d.filters: should be a valid integer"),
    ("unknown field", ("groups: 1", "group: 1"), "nodes[0].conv2d.group: unknown key 'group' (did you mean 'groups'"),
    ("add of one", ("inputs: [relu, stem]", "inputs: [relu]"), "nodes[2].add.inputs: add reads two or more values"),
    ("two into a conv", ("inputs: [input]", "inputs: [input, input]"), "nodes[0].conv2d.inputs: a conv2d node reads one value"),
    ("duplicate name", ("name: flat", "name: stem"), "nodes[3].flatten.name: a second value named 'stem'"),
    ("scope not an add", ("scope: [block, body]", "scope: [stem, body]"), "nodes[1].activation.scope: scope: 'stem' is not an add"),
    ("scope branch", ("scope: [block, body]", "scope: [block, side]"), "nodes[1].activation.scope: scope: 'block' is a node of this graph: an add's name is followed by body or shortcut"),
    ("train", ("batch_size: 8", "batch_size: 1"), "train.batch_size: should be greater than or equal to 2"),
    ("layers in version 2", ("nodes:", "layers:"), "1:11: normspec: format version 2 is the canonical form"),
]  # fmt: skip


@pytest.mark.parametrize(("old_new", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_graph_that_does_not_fit_together_is_refused_where_it_is_written(
    old_new: tuple[str, str], expected: str
) -> None:
    old, new = old_new
    assert old in SMALL
    problems = problems_of(SMALL.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def test_version_1_files_load_and_keep_their_hash() -> None:
    """A version-1 canonical form loads as the same model; the hash version 1 gave it is
    the one the weight file saved with it records, and that file loads."""
    spec = normspec.load(V1 / "small_resnet.yaml")
    assert normspec.load(V1 / "small_resnet.canonical.yaml") == spec
    recorded = (V1 / "small_resnet.canonical.yaml").read_text().splitlines()[0]
    assert spec.version1_hash in recorded and spec.hash not in recorded
    assert to_data_v1(spec)["layers"][3]["residual"]["name"] == "residual_block_1"
    weights = normspec.load_weights(V1 / "small_resnet.safetensors", spec)
    assert set(weights) == {w.key for w in normspec.ir.graph.weight_specs(spec)}


def test_a_weight_file_of_another_model_is_still_refused() -> None:
    other = normspec.load(
        (V1 / "small_resnet.yaml").read_text().replace("filters: 4", "filters: 5", 1)
    )
    with pytest.raises(normspec.errors.WeightsError, match="was made for spec small_resnet"):
        normspec.load_weights(V1 / "small_resnet.safetensors", other)
