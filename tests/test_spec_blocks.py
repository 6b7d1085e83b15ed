"""Blocks of the spec language (``blocks:``, used as layers): what they lower to, the same
outputs in every backend, and every mistake told where it is written, with the use it was
found in."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

import normspec
from normspec.backends import get_backend
from normspec.errors import SpecError
from normspec.ir.nodes import INPUT
from normspec.ir.serialize import to_data, to_yaml
from parity_cases import check_against_reference
from test_backends_shared import BACKENDS, available

HEAD = """\
normspec: 1
name: blocky
input: {shape: [8, 8, 3], dtype: DTYPE}
defaults: {activation: relu, norm: batch}
blocks:
  gate:
    params: [channels, {squeezed: 2}]
    layers:
      - global_avg_pool
      - dense: {units: $squeezed, norm: none}
      - dense: {units: $channels, activation: sigmoid, norm: none, name: excite}
      - multiply: [input, excite]
  basic:
    params: [filters, {strides: 1}]
    layers:
      - residual:
          body:
            - conv2d: {filters: $filters, strides: $strides, padding: same}
            - conv2d: {filters: $filters, padding: same, activation: linear}
      - gate: $filters
"""
LAYERS = """\
layers:
  - conv2d: {filters: 4, padding: same, name: stem}
  - basic: 4
  - basic: {filters: 4, name: second}
  - add: [second, stem]
  - basic: {filters: 6, strides: 2}
  - global_avg_pool
  - dense: {units: 3, activation: softmax}
"""


def blocky(layers: str = LAYERS, head: str = HEAD, dtype: str = "float32") -> Any:
    return normspec.load(head.replace("DTYPE", dtype) + layers)


def test_a_use_is_its_layers_named_after_it_reading_what_the_use_reads() -> None:
    spec = blocky()
    nodes = {n.name: n for n in spec.nodes}
    gate = [n.name for n in spec.nodes if n.name.startswith("basic_1_gate_1")]
    assert gate == [
        "basic_1_gate_1_global_avg_pool_1",
        "basic_1_gate_1_dense_1",
        "basic_1_gate_1_dense_1_relu",
        "basic_1_gate_1_excite",
        "basic_1_gate_1_excite_sigmoid",
        "basic_1_gate_1_multiply_1",
    ]
    # input is the block's input; a name reads that layer of the same use
    assert nodes["basic_1_gate_1_multiply_1"].inputs == (
        "basic_1_residual_1",  # the residual's add
        "basic_1_gate_1_excite_sigmoid",
    )
    assert nodes["basic_1_residual_1_conv2d_1"].inputs == ("stem_relu",)
    # the use's name reads the block's value: its last layer's
    assert nodes["add_1"].inputs == ("second_gate_1_multiply_1", "stem_relu")
    # parameters at each use, defaults where the use gives none
    assert nodes["basic_1_gate_1_dense_1"].op.units == 2
    assert nodes["basic_2_residual_1_conv2d_1"].op.strides == (2, 2)
    assert nodes["basic_2_gate_1_excite"].op.units == 6
    assert spec.output_shape == (3,)


def test_a_block_lowers_to_what_the_same_layers_written_out_lower_to() -> None:
    written_out = """\
normspec: 1
input: {shape: [8, 8, 4]}
defaults: {activation: relu, norm: batch}
layers:
  - conv2d: {filters: 4, name: c}
  - global_avg_pool
  - dense: {units: 2, norm: none}
  - dense: {units: 4, activation: sigmoid, norm: none, name: w}
  - multiply: [c, w]
  - flatten
"""
    with_block = """\
normspec: 1
input: {shape: [8, 8, 4]}
defaults: {activation: relu, norm: batch}
blocks:
  se:
    params: [channels]
    layers:
      - global_avg_pool
      - dense: {units: 2, norm: none}
      - dense: {units: $channels, activation: sigmoid, norm: none, name: w}
      - multiply: [input, w]
layers:
  - conv2d: {filters: 4, name: c}
  - se: 4
  - flatten
"""

    def unnamed(spec: Any) -> list[tuple[str, dict[str, Any], int]]:
        order = {n.name: i for i, n in enumerate(spec.nodes)}
        order[INPUT] = -1
        return [
            (n.op.op, n.op.model_dump(exclude={"name"}), [order[i] for i in n.inputs])
            for n in spec.nodes
        ]

    assert unnamed(normspec.load(with_block)) == unnamed(normspec.load(written_out))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_backend_gives_the_reference_outputs(backend: str, dtype: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    check_against_reference(get_backend(backend), blocky(dtype=dtype))


def problems_of(layers: str = LAYERS, head: str = HEAD) -> list[str]:
    with pytest.raises(SpecError) as info:
        blocky(layers, head)
    return [str(p) for p in info.value.problems]


# (case, (old, new) replaced once in HEAD + LAYERS, expected "<line>:<col>: <path>: <fragment>")
BAD = [
    ("unknown parameter in a definition", ("units: $squeezed", "units: $squeezd"), "10:24: blocks.gate.layers[1].dense.units: unknown parameter '$squeezd' (did you mean 'squeezed'?); the block's parameters: channels, squeezed"),
    ("parameter never used", ("[filters, {strides: 1}]", "[filters, {strides: 1}, depth]"), "14:37: blocks.basic.params[2]: the parameter 'depth' is never used: write $depth where it goes"),
    ("parameter listed twice", ("[filters, {strides: 1}]", "[filters, {filters: 1}]"), "blocks.basic.params[1]: the parameter 'filters' is listed twice"),
    ("parameter named name", ("[filters, {strides: 1}]", "[filters, {strides: 1}, name]"), "blocks.basic.params[2]: 'name' is what a use of the block gives its layer"),
    ("named like a layer kind", ("  basic:\n", "  dense:\n"), "13:3: blocks.dense: 'dense' is a layer kind"),
    ("no layers", ("  gate:\n    params: [channels, {squeezed: 2}]\n    layers:\n", "  gate:\n    params: [channels, {squeezed: 2}]\n    stages:\n"), "blocks.gate.stages: unknown key 'stages'"),
    ("unknown parameter at a use", ("{filters: 4, name: second}", "{filter: 4, name: second}"), "24:13: layers[2].basic.filter: unknown parameter 'filter' of the block basic (did you mean 'filters'?); it takes filters, strides, name, inputs"),
    ("missing parameter", ("{filters: 4, name: second}", "{name: second}"), "24:12: layers[2].basic: the block basic needs 'filters'"),
    ("scalar for two required", ("[channels, {squeezed: 2}]", "[channels, squeezed]"), "blocks.basic.layers[1].gate: gate takes a mapping of its parameters (channels, squeezed), not 4 (in the use at <string>:23:12: layers[1].basic with filters=4, strides=1)"),
    ("value a layer refuses", ("{filters: 6, strides: 2}", "{filters: 6, strides: 0}"), "26:34: layers[4].basic.strides: should be greater than or equal to 1; should be a valid list (got 0) (the parameter strides of basic, at <string>:18:52: blocks.basic.layers[0].residual.body[0].conv2d.strides)"),
    ("key a layer refuses", ("norm: none, name: excite}", "norm: none, name: excite, unit: 3}"), "11:82: blocks.gate.layers[2].dense.unit: unknown key 'unit' (did you mean 'units'?)"),
    ("shapes in one use", ("  - basic: {filters: 6, strides: 2}", "  - basic: {filters: 6, strides: 2}\n  - gate: 5"), "12:19: blocks.gate.layers[3].multiply: multiply of shapes that do not fit: basic_2_gate_1_multiply_1 gives (4, 4, 6), gate_1_excite_sigmoid gives (5,) (a multiply reads values of one shape, and per-channel gates (C,)) (in the use at <string>:27:11: layers[5].gate with channels=5, squeezed=2)"),
    ("unknown name inside", ("multiply: [input, excite]", "multiply: [input, excit]"), "12:27: blocks.gate.layers[3].multiply[1]: unknown layer 'excit' (did you mean 'excite'?); inputs name layers before this one (in the use at <string>:20:15: blocks.basic.layers[1].gate with channels=4, squeezed=2) (in the use at <string>:23:12: layers[1].basic with filters=4, strides=1)"),
    ("a block using itself", ("      - gate: $filters\n", "      - basic: $filters\n"), "20:16: blocks.basic.layers[1].basic: the block basic uses itself (basic > basic) (in the use at <string>:23:12: layers[1].basic with filters=4, strides=1)"),
    ("in a residual's branch", ("  - global_avg_pool\n  - dense", "  - residual: {body: [gate: 6]}\n  - global_avg_pool\n  - dense"), "layers[5].residual.body[0].gate: a block is used in the top-level list or in another block's layers, not in a residual's branch"),
    ("misspelt use", ("  - basic: 4", "  - basci: 4"), "23:5: layers[1].basci: unknown layer 'basci' (did you mean 'basic'?)"),
    ("unknown use", ("  - basic: 4", "  - bottleneck: 4"), "23:5: layers[1].bottleneck: unknown layer 'bottleneck'; known layers: dense, conv1d, conv2d"),
    ("blocks listed", ("  - basic: 4", "  - bottleneck: 4"), "residual_block, add, multiply, concat; the spec's blocks: basic, gate"),
    ("name taken", ("name: second}", "name: stem}"), "24:31: layers[2].basic.name: duplicate layer name 'stem'"),
    ("never used", ("  basic:\n", "  spare:\n    layers: [flatten]\n  basic:\n"), "13:3: blocks.spare: the block spare is never used: use it in layers (- spare: ...), or remove it"),
]  # fmt: skip


@pytest.mark.parametrize(("old_new", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_mistake_is_told_where_it_is_written_and_in_which_use(
    old_new: tuple[str, str], expected: str
) -> None:
    old, new = old_new
    text = HEAD + LAYERS
    assert old in text
    text = text.replace(old, new, 1)
    head, layers = text.split("layers:\n  - conv2d: {filters: 4, padding: same, name: stem}")
    problems = problems_of(
        "layers:\n  - conv2d: {filters: 4, padding: same, name: stem}" + layers, head
    )
    assert any(expected in p for p in problems), problems


def test_a_problem_every_use_finds_is_told_once() -> None:
    problems = problems_of(
        LAYERS, HEAD.replace("norm: none, name: excite}", "nrm: none, name: excite}")
    )
    assert len([p for p in problems if "'nrm'" in p]) == 1, problems


def test_a_problem_keeps_the_uses_it_was_found_in_innermost_first() -> None:
    with pytest.raises(SpecError) as info:
        blocky(LAYERS, HEAD.replace("multiply: [input, excite]", "multiply: [input, excit]"))
    found = [p for p in info.value.problems if "'excit'" in p.message]
    assert len(found) == 1  # every use of gate finds it: told for the first
    inner, outer = found[0].uses
    assert inner.endswith("blocks.basic.layers[1].gate with channels=4, squeezed=2")
    assert outer.endswith("layers[1].basic with filters=4, strides=1")
    assert "(in the use at" not in found[0].message
    assert str(found[0]).endswith(f"({inner}) ({outer})")


GATED = """\
normspec: 1
name: gated
input: {shape: [8, 8, 3], dtype: DTYPE}
defaults: {activation: relu, norm: batch}
blocks:
  gate:
    params: [channels, {squeezed: 2}]
    layers:
      - global_avg_pool
      - dense: {units: $squeezed, norm: none}
      - dense: {units: $channels, activation: sigmoid, norm: none, name: excite}
      - multiply: [input, excite]
layers:
  - conv2d: {filters: 4, padding: same, name: stem}
  - gate: 4
  - conv2d: {filters: 8, padding: same}
  - gate: {channels: 8, squeezed: 3, name: second}
  - global_avg_pool
  - dense: {units: 3, activation: softmax}
"""


def gated(dtype: str = "float32") -> Any:
    return normspec.load(GATED.replace("DTYPE", dtype))


def test_the_nodes_of_a_use_are_scoped_in_it_and_the_canonical_form_keeps_them() -> None:
    spec = gated()
    scopes = {n.name: n.scope for n in spec.nodes}
    assert scopes["gate_1_excite"] == ("gate_1", "gate")
    assert scopes["second_multiply_1"] == ("second", "gate")
    assert scopes["conv2d_1"] == ()
    assert all(n.depth == 0 for n in spec.nodes)  # a use is no nesting: its values are layers'
    again = normspec.load(to_yaml(spec))
    assert again == spec
    assert [(u.use, u.block, dict(u.args)) for u in spec.uses] == [
        ("gate_1", "gate", {"channels": 4, "squeezed": 2}),
        ("second", "gate", {"channels": 8, "squeezed": 3}),
    ]
    # the form that writes every node out, the arguments under uses:, reads the same
    flat = yaml.safe_dump(to_data(spec, definitions=False), sort_keys=False)
    assert "uses:" in flat and "definition:" not in flat
    assert normspec.load(flat) == spec
    assert spec.flat_hash in spec.hashes and spec.flat_hash != spec.hash  # files saved so
    wrong = flat.replace("use: second", "use: third")
    with pytest.raises(
        SpecError, match=re.escape("uses[1].use: 'third' is not a use of the block 'gate'")
    ):
        normspec.load(wrong)
    assert spec.version1_hash is None  # format version 1 had no blocks


def test_the_canonical_form_writes_each_distinct_use_of_a_block_once() -> None:
    spec = blocky()
    data = to_data(spec)
    # basic_1 and second resolve to the same nodes; basic_2 (filters 6, strides 2) does not
    assert list(data["blocks"]) == ["basic.1", "gate.1", "basic.2", "gate.2"]
    assert data["blocks"]["gate.2"]["args"] == {"channels": 6, "squeezed": 2}
    uses = {b["name"]: b for item in data["nodes"] if (b := item.get("block"))}
    assert {name: b["definition"] for name, b in uses.items()} == {
        "basic_1": "basic.1",
        "second": "basic.1",
        "basic_2": "basic.2",
    }
    assert uses["second"]["inputs"] == ["basic_1"]  # a use's value is read by its name
    assert uses["basic_2"]["params"] == sum(
        n.op.params for n in spec.nodes if n.scope[:1] == ("basic_2",)
    )
    inner = data["blocks"]["basic.1"]["nodes"]
    assert inner[0]["conv2d"]["inputs"] == ["input"]  # what the use reads
    assert inner[0]["conv2d"]["scope"] == ["residual_1", "body"]
    assert inner[-1] == {
        "block": {
            "name": "gate_1",
            "inputs": ["residual_1"],
            "definition": "gate.1",
            "shape": [8, 8, 4],
            "params": 22,
        }
    }
    add = next(item["add"] for item in data["nodes"] if "add" in item)
    assert add["inputs"] == ["second", "stem_relu"]
    text = to_yaml(spec)
    assert len(text) < len(yaml.safe_dump(to_data(spec, definitions=False))) * 0.8
    again = normspec.load(text)
    assert again == spec and again.hash == spec.hash
    assert again.nodes == spec.nodes and again.uses == spec.uses


def test_a_weight_file_saved_with_the_form_before_definitions_loads(tmp_path: Any) -> None:
    from normspec.weights import safetensors_bytes

    spec = gated()
    weights = normspec.init_weights(spec, seed=0)
    metadata = {"normspec_hash": str(spec.flat_hash), "spec_name": spec.name}
    path = tmp_path / "gated.safetensors"
    path.write_bytes(safetensors_bytes(weights, metadata))
    loaded = normspec.load_weights(path, spec)
    assert all((loaded[key] == weights[key]).all() for key in weights)
    plain = normspec.load("normspec: 1\ninput: {shape: [4]}\nlayers: [dense: 2]\n")
    assert plain.flat_hash is None  # no uses of blocks: no such older form
    assert plain.hashes == (plain.hash, plain.version1_hash)


def _canonical_text() -> str:
    return to_yaml(blocky())


# (case, (old, new) replaced once in blocky's canonical text, "<line>:<col>: <path>: <fragment>")
BAD_CANONICAL = [
    ("unknown definition", ("definition: basic.2", "definition: basic.3"), "nodes[6].block.definition: no definition 'basic.3' under blocks (did you mean 'basic.2'?) (they are: basic.1, gate.1, basic.2, gate.2)"),
    ("unused definition", ("\nnodes:\n", "\n  spare:\n    block: gate\n    nodes:\n    - activation: {name: a, inputs: [input], function: relu, shape: [8, 8, 3], params: 0}\nnodes:\n"), "blocks.spare: the definition 'spare' is used by no block node"),
    ("a definition using itself", ("definition: gate.1", "definition: basic.1"), "blocks.basic.1.nodes[6].block.definition: a definition uses itself (basic.1 > basic.1)"),
    ("declared shape", ("    shape: [8, 8, 4]\n    params: 342", "    shape: [8, 8, 5]\n    params: 342"), "nodes[3].block.shape: declared [8, 8, 5] but its definition gives [8, 8, 4]"),
    ("a node inside a definition", ("        units: 2\n", "        units: 3\n"), "blocks.gate.1.nodes[1].dense.shape: declared (2,) but its inputs give (3,)"),
    ("unknown input inside", ("inputs: [dense_1_relu]", "inputs: [dense_1_rel]"), "blocks.gate.1.nodes[3].dense.inputs[0]: 'basic_1_gate_1_dense_1_rel' is not computed before this node"),
    ("a key of a definition", ("    block: gate\n", "    block: gate\n    kind: x\n"), "blocks.gate.1.kind: unknown key 'kind'"),
    ("reads two values", ("inputs: [basic_1]", "inputs: [basic_1, stem]"), "nodes[4].block.inputs: inputs: the one value the use reads"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "expected"), BAD_CANONICAL, ids=[c[0] for c in BAD_CANONICAL]
)
def test_a_canonical_use_that_does_not_fit_is_told_where_it_is_written(
    case: str, change: tuple[str, str], expected: str
) -> None:
    text = _canonical_text()
    assert change[0] in text, case
    with pytest.raises(SpecError) as info:
        normspec.load(text.replace(change[0], change[1], 1))
    shown = [str(p) for p in info.value.problems]
    assert any(expected in p for p in shown), shown
    assert all(re.match(r"<string>:\d+:\d+: ", p) for p in shown), shown


def test_a_canonical_file_of_as_many_nodes_as_a_spec_may_have_loads() -> None:
    from normspec.spec.canonicalize import MAX_OPS

    uses = (MAX_OPS - 2) // 2  # each use: a dense and its activation; then the head's two
    text = "normspec: 1\ninput: {shape: [4]}\nblocks:\n  pair:\n    layers:\n"
    text += "      - dense: {units: 4, activation: relu}\nlayers:\n"
    text += "  - pair: {}\n" * uses + "  - dense: {units: 2, activation: softmax}\n"
    spec = normspec.load(text)
    assert len(spec.nodes) + len(spec.uses) > MAX_OPS  # nodes and block nodes, counted apart
    assert normspec.load(to_yaml(spec)) == spec


def test_a_small_canonical_file_cannot_write_out_a_huge_graph() -> None:
    levels = 16  # each definition uses the next one twice: 2**16 dense nodes
    blocks = {
        f"b{i}": {"block": "twice", "args": {}, "nodes": [
            {"block": {"name": "first", "inputs": ["input"], "definition": f"b{i + 1}"}},
            {"block": {"name": "then", "inputs": ["first"], "definition": f"b{i + 1}"}},
        ]}
        for i in range(levels)
    }  # fmt: skip
    dense = {"name": "d", "inputs": ["input"], "units": 2, "use_bias": False,
             "kernel_init": {"distribution": "constant", "value": 0.0},
             "bias_init": {"distribution": "constant", "value": 0.0}, "shape": [2], "params": 4}  # fmt: skip
    blocks[f"b{levels}"] = {"block": "leaf", "args": {}, "nodes": [{"dense": dense}]}
    data = {
        "normspec": 2,
        "name": "bomb",
        "input": {"shape": [2], "dtype": "float32"},
        "blocks": blocks,
        "nodes": [{"block": {"name": "top", "inputs": ["input"], "definition": "b0"}}],
        "train": {"optimizer": "sgd", "learning_rate": 0.1, "epochs": 1, "batch_size": 8},
    }
    with pytest.raises(SpecError, match="more than 5,000 nodes once the uses of blocks"):
        normspec.load(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("read inside", "reads 'gate_1_excite_sigmoid' inside a use of a block it is not in"),
        ("apart", "the nodes of the use 'gate_1' are apart"),
        ("use named like a node", "the use of a block 'stem' has the name of a node"),
        (
            "not named after the use",
            "node 'gate_1_global_avg_pool_1' of the use 'se' is not named se_",
        ),
        ("reads two values", "reads 'stem', a second value from outside the use 'gate_1'"),
        ("in a branch", "the use 'basic_1' is in a residual's branch"),
    ],
)
def test_a_canonical_graph_whose_uses_do_not_fit_together_is_refused(
    change: str, message: str
) -> None:
    spec = blocky() if change == "in a branch" else gated()
    nodes = list(spec.nodes)
    names = [n.name for n in nodes]
    if change == "read inside":
        i = names.index("conv2d_1")
        inputs = ("gate_1_excite_sigmoid",)
        shapes = (nodes[names.index("gate_1_excite_sigmoid")].shape,)
        nodes[i] = nodes[i].model_copy(update={"inputs": inputs, "input_shapes": shapes})
    elif change == "apart":
        i = names.index("gate_1_multiply_1")
        nodes[i] = nodes[i].model_copy(update={"scope": ()})  # leaves the use before its end
        j = names.index("conv2d_1")
        nodes[j] = nodes[j].model_copy(update={"scope": ("gate_1", "gate")})
    elif change == "use named like a node":  # stem_bn, stem_relu as a use named stem
        nodes = [n.model_copy(update={"scope": ("stem", "gate")}) if n.name.startswith("stem_")
                 else n for n in nodes]  # fmt: skip
    elif change == "not named after the use":
        nodes = [n.model_copy(update={"scope": ("se", "gate")}) if n.scope[:1] == ("gate_1",)
                 else n for n in nodes]  # fmt: skip
    elif change == "reads two values":
        i = names.index("gate_1_multiply_1")
        inputs = ("stem", "gate_1_excite_sigmoid")  # the use reads stem_relu
        nodes[i] = nodes[i].model_copy(update={"inputs": inputs})
    else:  # the residual's body, then the use: the use inside the branch
        body = ("basic_1", "basic", "basic_1_residual_1", "body")
        swapped = (*body[2:], *body[:2])
        nodes = [n.model_copy(update={"scope": swapped}) if n.scope == body else n
                 for n in nodes]  # fmt: skip
    data = spec.model_dump()
    data["nodes"] = [n.model_dump() for n in nodes]
    with pytest.raises(ValueError, match=message):
        normspec.ir.CanonicalSpec.model_validate(data)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_use_is_a_call_of_the_blocks_class_with_the_reference_outputs(
    backend: str, dtype: str
) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    spec = gated(dtype)
    source = normspec.emit(spec, backend)
    expected = {
        # the class's parameters are named after the block's
        "torch": [
            "class Gate(nn.Module):",
            "self.gate_1 = Gate(channels=4, squeezed=2,",
            "self.second = Gate(channels=8, squeezed=3,",
        ],
        "flax": [
            "class Gate(Block):",
            "self.gate_1 = Gate(channels=4, squeezed=2,",
            "self.second = Gate(channels=8, squeezed=3,",
        ],
        "keras": [
            "def gate(",
            'x = gate(x, channels=4, squeezed=2, name="gate_1")',
            'x = gate(x, channels=8, squeezed=3, name="second")',
        ],
    }[backend]
    for text in expected:
        assert source.count(text) == 1, (text, source)
    assert "Gate2" not in source and "def gate2" not in source  # one class for both uses
    check_against_reference(get_backend(backend), spec)


def test_a_use_holds_its_layers_under_its_name_in_pytorch() -> None:
    if not available("torch"):
        pytest.skip("torch is not installed")
    model = get_backend("torch").build(gated())
    keys = set(model.state_dict())
    assert {"gate_1.excite.weight", "second.dense_1.bias", "conv2d_1.weight"} <= keys


NESTED = {
    # the inner block's class comes first; the outer one holds a use of it as a layer
    "torch": [
        "class Gate(nn.Module):",
        "class Basic(nn.Module):",
        "self.gate_1 = Gate(channels=4, dtype=dtype)",
        "self.gate_1 = Gate(channels=6, dtype=dtype)",
        "self.basic_1 = Basic(dtype=dtype)",
        "self.second = Basic(dtype=dtype)",
    ],
    "flax": [
        "class Gate(Block):",
        "class Basic(Block):",
        "class Basic2(Block):",
    ],
    "keras": [
        "def gate(",
        "def basic(",
        'x = gate(x, channels=4, name=f"{name}_gate_1")',
        'x = gate(x, channels=6, name=f"{name}_gate_1")',
        'x = basic(stem_relu_out, name="basic_1")',
        'x = basic(x, name="second")',
        "# residual_1: the body's output plus the identity.",
    ],
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_use_inside_a_block_is_a_call_of_its_own_class(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    source = normspec.emit(blocky(), backend)
    for text in NESTED[backend]:
        assert source.count(text) == 1, (text, source)
    assert source.index(NESTED[backend][0]) < source.index(NESTED[backend][1])
    calls = {"torch": "x = self.gate_1(x)", "flax": "x = self.gate_1(x)", "keras": "= gate(x"}
    assert source.count(calls[backend]) == 2  # in basic's class and in basic_2's
    assert "gate_1_excite" not in source.replace('f"{name}_gate_1"', "")  # no layer inline
    assert "(a use of gate)" in source  # the outer class's docstring names the use


def test_a_use_inside_a_block_holds_its_layers_under_both_names_in_pytorch() -> None:
    if not available("torch"):
        pytest.skip("torch is not installed")
    model = get_backend("torch").build(blocky())
    keys = set(model.state_dict())
    assert {"basic_1.gate_1.excite.weight", "basic_2.gate_1.dense_1.bias"} <= keys
    assert {"basic_1.residual_1_conv2d_1.weight", "second.gate_1.excite.bias"} <= keys
    assert not any("gate_1_" in key for key in keys)


def test_show_gives_a_use_one_row_with_its_totals_before_its_ops() -> None:
    from normspec.summary import summary_data

    rows = {r["name"]: r for r in summary_data(gated())["rows"]}
    names = list(rows)
    use = rows["second"]
    assert use["op"] == "block" and use["depth"] == 0
    assert use["detail"] == "gate(channels=8, squeezed=3)"
    ops = [n for n in names if n.startswith("second_")]
    assert names.index("second") + 1 == names.index(ops[0])
    assert all(rows[n]["depth"] == 1 for n in ops)
    assert use["params"] == sum(rows[n]["params"] for n in ops) == (8 * 3 + 3) + (3 * 8 + 8)
    assert use["output_shape"] == rows[ops[-1]]["output_shape"] == [8, 8, 8]
    nested = {r["name"]: r for r in summary_data(blocky())["rows"]}
    assert nested["basic_1_gate_1"]["depth"] == 1  # a use inside a use
    assert nested["basic_1_residual_1"]["depth"] == 1  # a residual inside a use
    assert nested["basic_1_residual_1_conv2d_1"]["depth"] == 2
