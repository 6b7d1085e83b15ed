"""The network's output layer takes no norm from defaults unless it says so; validate and show
say what it got."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import normspec
from conftest import ROOT
from normspec.cli import main
from normspec.spec.head import head_index

IMAGE = "normspec: 1\ninput: {shape: [8, 8, 3]}\n"
BN = "defaults: {activation: relu, norm: batch}\n"


def ops_of(text: str) -> list[tuple[str, str]]:
    return [(op.op, op.name) for op in normspec.load(text).ops]


# (case, spec text, the ops expected)
HEAD_CASES = [
    ("dense head", IMAGE + BN + "layers:\n  - flatten\n  - dense: 16\n  - dense: {units: 10, activation: softmax}\n",
     [("flatten", "flatten_1"), ("dense", "dense_1"), ("batch_norm", "dense_1_bn"), ("activation", "dense_1_relu"),
      ("dense", "dense_2"), ("activation", "dense_2_softmax")]),
    ("conv head", IMAGE + BN + "layers:\n  - conv2d: 4\n  - conv2d: {filters: 10, kernel: 1}\n  - global_avg_pool\n  - activation: softmax\n",
     [("conv2d", "conv2d_1"), ("batch_norm", "conv2d_1_bn"), ("activation", "conv2d_1_relu"),
      ("conv2d", "conv2d_2"), ("activation", "conv2d_2_relu"), ("global_avg_pool", "global_avg_pool_1"),
      ("activation", "activation_1")]),
    ("head says batch", IMAGE + BN + "layers:\n  - flatten\n  - dense: {units: 10, norm: batch}\n",
     [("flatten", "flatten_1"), ("dense", "dense_1"), ("batch_norm", "dense_1_bn"), ("activation", "dense_1_relu")]),
    ("network ends in a norm layer", IMAGE + BN + "layers:\n  - flatten\n  - dense: 4\n  - layer_norm\n",
     [("flatten", "flatten_1"), ("dense", "dense_1"), ("batch_norm", "dense_1_bn"), ("activation", "dense_1_relu"),
      ("layer_norm", "layer_norm_1")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES]
)
def test_the_head_takes_no_norm_from_defaults(text: str, expected: list) -> None:
    assert ops_of(text) == expected


def test_the_head_keeps_its_bias_and_the_other_defaults() -> None:
    spec = normspec.load(
        IMAGE + "defaults: {norm: batch, kernel_init: zeros}\nlayers:\n  - flatten\n  - dense: 3\n"
    )
    dense = spec.ops[-1]
    assert dense.op == "dense" and dense.use_bias
    assert dense.kernel_init.distribution == "constant" and dense.kernel_init.value == 0.0


def test_a_norm_the_head_says_merges_over_the_defaults_norm() -> None:
    spec = normspec.load(
        IMAGE + "defaults: {norm: {kind: batch, epsilon: 0.001}}\n"
        "layers:\n  - flatten\n  - dense: {units: 3, norm: batch}\n"
    )
    assert spec.ops[-1].op == "batch_norm" and spec.ops[-1].epsilon == 0.001


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["flatten", {"dense": 10}], 1),
        (
            [{"conv2d": 4}, {"max_pool2d": 2}, "flatten", {"dropout": 0.5}, {"activation": "relu"}],
            0,
        ),
        ([{"dense": 4}, "batch_norm"], None),
        ([{"residual_block": 4}, "global_avg_pool"], None),
        (["flatten"], None),
    ],
)
def test_head_index(items: list, expected: int | None) -> None:
    assert head_index(items) == expected


HEAD_SPEC = IMAGE + BN + "layers:\n  - flatten\n  - dense: {units: 10, activation: softmax}\n"
INHERITED = (
    "head: layers[1].dense (dense_1): dense, softmax; no norm (defaults.norm 'batch' does not "
    "reach the output layer; write norm: batch on it to have one)"
)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ("  - flatten\n  - dense: {units: 10, activation: softmax}\n", INHERITED),
        (
            "  - flatten\n  - dense: {units: 10, norm: batch}\n",
            "head: layers[1].dense (dense_1): dense, batch_norm, relu; batch norm, as the layer says",
        ),
        (
            "  - flatten\n  - dense: {units: 10, norm: none}\n",
            "head: layers[1].dense (dense_1): dense, relu; no norm, as the layer says",
        ),
    ],
)
def test_validate_says_what_the_head_got(tmp_path, layers: str, expected: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(IMAGE + BN + "layers:\n" + layers)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"  {expected}\n" in result.output


def test_validate_without_defaults_norm_says_no_norm(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(IMAGE + "layers:\n  - flatten\n  - dense: 2\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert "  head: layers[1].dense (dense_1): dense; no norm\n" in result.output


def test_show_says_what_the_head_got(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD_SPEC)
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("H" + INHERITED[1:] + "\n")


def test_no_head_line_when_the_network_ends_in_a_norm(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(IMAGE + "layers:\n  - flatten\n  - dense: 4\n  - layer_norm\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0 and "head:" not in result.output


def test_the_readme_prints_the_head_line_validate_prints(tmp_path) -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    path = tmp_path / "spec.yaml"
    path.write_text(
        "normspec: 1\ninput: {shape: [28, 28, 1]}\ndefaults: {norm: batch}\n"
        "layers: [conv2d: 8, flatten, {dense: {units: 10, activation: softmax}}]\n"
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    line = next(x.strip() for x in result.output.splitlines() if x.strip().startswith("head:"))
    assert f"`{line}`" in readme
    assert "`[conv2d: 8, flatten, {dense: {units: 10, activation: softmax}}]`" in readme
