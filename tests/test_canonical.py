"""Canonicalization: shorthands, defaults written out, shapes, params, idempotence, goldens."""

from __future__ import annotations

import json
import math

import pytest

import normspec
from conftest import GOLDEN, SPECS, check_golden
from normspec.ir import ops as ir
from normspec.ir.graph import count_params
from normspec.ir.serialize import to_data, to_yaml


def one(layers: str, shape: str = "[8, 8, 3]", extra: str = "") -> normspec.ir.CanonicalSpec:
    return normspec.load(f"normspec: 1\ninput: {{shape: {shape}}}\n{extra}layers:\n{layers}")


def ops_of(layers: str, **kw: str) -> list[ir.Op]:
    """The ops at the top level (a residual's ``add`` for the residual)."""
    return [node.op for node in one(layers, **kw).top_nodes]


# (case, layers yaml, input shape, expected [(op kind, output shape)])
LAYER_TABLE = [
    ("conv2d shorthand", "  - conv2d: 4\n", "[8, 8, 3]", [("conv2d", (6, 6, 4))]),
    ("conv2d same stride 2", "  - conv2d: {filters: 4, strides: 2, padding: same}\n", "[8, 8, 3]", [("conv2d", (4, 4, 4))]),
    ("conv2d dilation", "  - conv2d: {filters: 4, dilation: 2}\n", "[8, 8, 3]", [("conv2d", (4, 4, 4))]),
    ("conv2d explicit pairs", "  - conv2d: {filters: 2, padding: [[0, 1], [2, 0]]}\n", "[8, 8, 3]", [("conv2d", (7, 8, 2))]),
    ("conv2d groups", "  - conv2d: {filters: 6, groups: 3, kernel: [1, 3]}\n", "[8, 8, 3]", [("conv2d", (8, 6, 6))]),
    ("conv1d", "  - conv1d: {filters: 5, kernel: 3, strides: 2}\n", "[9, 2]", [("conv1d", (4, 5))]),
    ("max_pool2d shorthand", "  - max_pool2d: 2\n", "[8, 8, 3]", [("max_pool2d", (4, 4, 3))]),
    ("max_pool2d same odd", "  - max_pool2d: {pool: 3, strides: 2, padding: same}\n", "[7, 7, 3]", [("max_pool2d", (4, 4, 3))]),
    ("avg_pool2d padded", "  - avg_pool2d: {pool: 3, strides: 1, padding: 1, count_include_pad: true}\n", "[8, 8, 3]", [("avg_pool2d", (8, 8, 3))]),
    ("max_pool1d", "  - max_pool1d: 2\n", "[9, 2]", [("max_pool1d", (4, 2))]),
    ("avg_pool1d", "  - avg_pool1d: 3\n", "[9, 2]", [("avg_pool1d", (3, 2))]),
    ("global avg", "  - global_avg_pool\n", "[8, 8, 3]", [("global_avg_pool", (3,))]),
    ("global max", "  - global_max_pool\n", "[9, 2]", [("global_max_pool", (2,))]),
    ("flatten", "  - flatten\n", "[8, 8, 3]", [("flatten", (192,))]),
    ("reshape", "  - reshape: [-1, 6]\n", "[8, 8, 3]", [("reshape", (32, 6))]),
    ("dropout", "  - flatten\n  - dropout: 0.25\n", "[2, 2, 1]", [("flatten", (4,)), ("dropout", (4,))]),
    ("activation shorthand", "  - activation: gelu\n", "[4]", [("activation", (4,))]),
    ("linear activation vanishes", "  - activation: linear\n", "[4]", []),
    ("batch_norm bare", "  - batch_norm\n", "[8, 8, 3]", [("batch_norm", (8, 8, 3))]),
    ("layer_norm", "  - layer_norm\n", "[4]", [("layer_norm", (4,))]),
    ("group_norm shorthand", "  - group_norm: 3\n", "[8, 8, 3]", [("group_norm", (8, 8, 3))]),
    ("instance_norm", "  - instance_norm\n", "[8, 8, 3]", [("instance_norm", (8, 8, 3))]),
    ("rms_norm", "  - rms_norm\n", "[4]", [("rms_norm", (4,))]),
    ("dense block", "  - dense: {units: 3, activation: relu, norm: batch, dropout: 0.1}\n", "[4]", [("dense", (3,)), ("batch_norm", (3,)), ("activation", (3,)), ("dropout", (3,))]),
    ("after activation", "  - dense: {units: 3, activation: relu, norm: {kind: layer, position: after_activation}}\n", "[4]", [("dense", (3,)), ("activation", (3,)), ("layer_norm", (3,))]),
    ("explicit order", "  - dense: {units: 3, activation: relu, norm: batch, dropout: 0.5, order: [dense, dropout, norm, act]}\n", "[4]", [("dense", (3,)), ("dropout", (3,)), ("batch_norm", (3,)), ("activation", (3,))]),
    ("residual auto identity", "  - residual: {body: [{conv2d: {filters: 3, padding: same}}]}\n", "[8, 8, 3]", [("add", (8, 8, 3))]),
    ("residual auto projection", "  - residual: {body: [{conv2d: {filters: 4, strides: 2, padding: 1}}]}\n", "[8, 8, 3]", [("add", (4, 4, 4))]),
    ("residual block post", "  - residual_block: {filters: 4, strides: 2}\n", "[8, 8, 3]", [("add", (4, 4, 4)), ("activation", (4, 4, 4))]),
    ("residual block pre projected", "  - residual_block: {filters: 4, strides: 2, style: pre}\n", "[8, 8, 3]", [("batch_norm", (8, 8, 3)), ("activation", (8, 8, 3)), ("add", (4, 4, 4))]),
    ("residual block pre identity", "  - residual_block: {filters: 3, style: pre}\n", "[8, 8, 3]", [("add", (8, 8, 3))]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("layers", "shape", "expected"), [c[1:] for c in LAYER_TABLE], ids=[c[0] for c in LAYER_TABLE]
)
def test_layer_kinds_and_shorthands(layers: str, shape: str, expected: list) -> None:
    ops = ops_of(layers, shape=shape)
    assert [(op.op, op.shape) for op in ops] == expected


def test_strided_same_padding_puts_the_extra_cell_at_the_end() -> None:
    even = ops_of("  - conv2d: {filters: 1, strides: 2, padding: same}\n")[0]
    odd = ops_of("  - conv2d: {filters: 1, strides: 2, padding: same}\n", shape="[7, 7, 1]")[0]
    assert even.padding == ((0, 1), (0, 1))
    assert odd.padding == ((1, 1), (1, 1))


def test_use_bias_auto_drops_the_bias_only_before_batch_norm() -> None:
    before = ops_of("  - dense: {units: 3, norm: batch, activation: relu}\n", shape="[4]")[0]
    after = ops_of(
        "  - dense: {units: 3, norm: {kind: batch, position: after_activation}, activation: relu}\n",
        shape="[4]",
    )[0]
    layer = ops_of("  - dense: {units: 3, norm: layer}\n", shape="[4]")[0]
    assert (before.use_bias, after.use_bias, layer.use_bias) == (False, True, True)


def test_defaults_apply_and_layers_override() -> None:
    extra = (
        "defaults: {activation: elu, norm: {kind: batch, momentum: 0.01, running_var: biased}}\n"
    )
    ops = ops_of(
        "  - dense: 3\n  - dense: {units: 2, norm: none, activation: tanh}\n",
        shape="[4]",
        extra=extra,
    )
    kinds = [(op.op, getattr(op, "function", None)) for op in ops]
    assert kinds == [
        ("dense", None),
        ("batch_norm", None),
        ("activation", "elu"),
        ("dense", None),
        ("activation", "tanh"),
    ]
    bn, elu = ops[1], ops[2]
    assert (bn.momentum, bn.running_var, bn.epsilon) == (0.01, "biased", 1e-5)
    assert elu.alpha == 1.0


def test_every_default_is_written_out() -> None:
    spec = one("  - activation: {function: leaky_relu}\n  - activation: gelu\n", shape="[4]")
    leaky, gelu = spec.ops
    assert leaky.negative_slope == 0.01
    assert gelu.approximate == "none"
    assert spec.train.optimizer.kind == "adam" and spec.train.optimizer.epsilon == 1e-8


def test_initializers_are_explicit_numbers() -> None:
    dense = ops_of(
        "  - dense: {units: 10, kernel_init: he_uniform, bias_init: torch_default}\n", shape="[40]"
    )[0]
    assert dense.kernel_init == ir.Uniform(low=-math.sqrt(6 / 40), high=math.sqrt(6 / 40))
    assert dense.bias_init == ir.Uniform(low=-1 / math.sqrt(40), high=1 / math.sqrt(40))
    conv = ops_of("  - conv2d: {filters: 4, kernel_init: he_normal}\n")[0]
    assert isinstance(conv.kernel_init, ir.TruncatedNormal)
    assert conv.kernel_init.high == pytest.approx(2 * conv.kernel_init.std)
    assert conv.kernel_init.std == pytest.approx(math.sqrt(2 / 27) / 0.8796256610342398)


def test_names_are_unique_stable_identifiers() -> None:
    spec = normspec.load(SPECS[0])
    names = [site.op.name for site in spec.nodes]
    assert len(names) == len(set(names))
    assert all(n.isidentifier() for n in names)
    assert names == [site.op.name for site in normspec.load(SPECS[0]).nodes]


def test_input_normalization_is_the_first_op() -> None:
    spec = normspec.load(
        "normspec: 1\ninput: {shape: [2], normalize: {kind: fixed, mean: [1, 2], std: 3}}\n"
        "layers: [dense: 1]\n"
    )
    norm = spec.ops[0]
    assert isinstance(norm, ir.Standardize)
    assert (norm.adapt, norm.mean, norm.std) == (False, (1.0, 2.0), (3.0, 3.0))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_canonical_form_is_a_valid_spec_and_idempotent(path) -> None:
    spec = normspec.load(path)
    text = to_yaml(spec)
    again = normspec.load(text)
    assert to_yaml(again) == text
    assert again.hash == spec.hash
    json.dumps(to_data(spec))  # the JSON form is plain data


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_canonical_golden(path) -> None:
    check_golden(GOLDEN / "canonical" / f"{path.stem}.yaml", to_yaml(normspec.load(path)))


def test_known_parameter_counts() -> None:
    # Reference counts of the classic architectures (conv/dense weights + BN state).
    lenet = normspec.load(next(p for p in SPECS if p.stem == "lenet5"))
    assert count_params(lenet) == (61_706, 0)
    resnet = normspec.load(next(p for p in SPECS if p.stem == "resnet18"))
    trainable, frozen = count_params(resnet)
    assert trainable == 11_173_962 and frozen == 9_600 + 6
