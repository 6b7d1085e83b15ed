"""Habits from PyTorch and Keras get a message naming where the setting lives, and a spec's
problems are reported in one run, even below a structural mistake."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

import normspec
from normspec.cli import main
from normspec.errors import SpecError

HEAD = "normspec: 1\ninput: {shape: [28, 28, 1]}\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        normspec.load(textwrap.dedent(text))
    return [str(p) for p in info.value.problems]


# (case, spec text, the whole problem: "<string>:LINE:COL: path: message")
HINT_CASES = [
    ("relu as a layer", HEAD + "layers:\n  - flatten\n  - relu\n",
     "5:5: layers[1].relu: unknown layer 'relu': relu is an activation: write it as the layer "
     "'- activation: relu', or as 'activation: relu' in the options of the dense or conv layer before it"),
    ("ReLU as a layer", HEAD + "layers:\n  - flatten\n  - ReLU\n",
     "5:5: layers[1].ReLU: unknown layer 'ReLU': relu is an activation: write it as the layer '- activation: relu'"),
    ("LeakyReLU with options", HEAD + "layers:\n  - flatten\n  - LeakyReLU: {negative_slope: 0.2}\n",
     "5:5: layers[1].LeakyReLU: unknown layer 'LeakyReLU': leaky_relu is an activation: write it as the layer "
     "'- activation: leaky_relu'"),
    ("train.lr", HEAD + "layers: [flatten]\ntrain: {lr: 0.01}\n",
     "4:9: train.lr: unknown key 'lr': the learning rate is the optimizer's: write train: "
     "{optimizer: {kind: adam, learning_rate: 0.01}}, or give it to a run with --lr"),
    ("train.learning_rate", HEAD + "layers: [flatten]\ntrain: {learning_rate: 0.1}\n",
     "4:9: train.learning_rate: unknown key 'learning_rate': the learning rate is the optimizer's"),
    ("defaults.norm_position", HEAD + "defaults: {norm: batch, norm_position: after_activation}\nlayers: [flatten]\n",
     "3:25: defaults.norm_position: unknown key 'norm_position': the norm's position is part of norm: "
     "write norm: {kind: batch, position: after_activation}"),
    ("bn_momentum on a layer", HEAD + "layers:\n  - flatten\n  - dense: {units: 2, bn_momentum: 0.01}\n",
     "5:23: layers[1].dense.bn_momentum: unknown key 'bn_momentum': the norm's momentum is part of norm: "
     "write norm: {kind: batch, momentum: 0.01}"),
    ("norm_position on a residual block", HEAD + "layers:\n  - residual_block: {filters: 4, norm_position: after_activation}\n",
     "4:34: layers[0].residual_block.norm_position: unknown key 'norm_position': the norm's position is part of norm"),
    ("top-level input_shape", "normspec: 1\ninput_shape: [28, 28, 1]\nlayers: [flatten]\n",
     "2:1: input_shape: unknown key 'input_shape': the shape goes inside input: write input: {shape: [28, 28, 1]}"),
    ("top-level epochs", HEAD + "layers: [flatten]\nepochs: 5\n",
     "4:1: epochs: unknown key 'epochs': 'epochs' goes inside train: write train: {epochs: 5}"),
    ("Keras type key", HEAD + "layers:\n  - {type: flatten}\n",
     "4:5: layers[0]: a layer is a one-key mapping {kind: options}, not {type: flatten}: write '- flatten'"),
    ("type key with options", HEAD + "layers:\n  - flatten\n  - {type: Dense, units: 10}\n",
     "5:5: layers[1]: a layer is a one-key mapping {kind: options}, not {type: Dense, ...}: write '- dense: {units: 10}'"),
    ("Keras layer config", HEAD + "layers:\n  - flatten\n  - {class_name: Dense, config: {units: 10, activation: softmax}}\n",
     "5:5: layers[1]: a layer is a one-key mapping {kind: options}, not a Keras layer config: "
     "write '- dense: {units: 10, activation: softmax}'"),
    ("Keras config, Keras option names", HEAD + "layers:\n  - {class_name: MaxPooling2D, config: {pool_size: 2}}\n  - flatten\n",
     "4:5: layers[0]: a layer is a one-key mapping {kind: options}, not a Keras layer config: write '- max_pool2d: {pool: 2}'"),
    ("Keras config of no known kind", HEAD + "layers:\n  - {class_name: Embedding, config: {input_dim: 10}}\n",
     "4:5: layers[0]: a layer is a one-key mapping {kind: options}, not a Keras layer config; 'Embedding' is no layer kind; "
     "known layers: dense, conv1d"),
    ("missing normspec", "input: {shape: [4]}\nlayers: [dense: 2]\n",
     "1:1: normspec: missing required key 'normspec', the format version: start the spec with normspec: 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in HINT_CASES], ids=[c[0] for c in HINT_CASES]
)
def test_a_habit_gets_where_the_setting_lives(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(p.startswith(f"<string>:{expected}") for p in found), "\n".join(found)


def test_a_top_level_input_shape_is_not_also_a_missing_input() -> None:
    found = problems_of("normspec: 1\ninput_shape: [28, 28, 1]\nlayers: [flatten]\n")
    assert len(found) == 1 and "input_shape" in found[0], found


BOTH = HEAD + textwrap.dedent(
    """\
    layers:
      - conv2d: {filters: 8, kernel_size: 3}
      - relu
      - {class_name: MaxPooling2D, config: {pool_size: 2}}
      - dense: 10
    train: {lr: 0.01}
    """
)
BOTH_EXPECTED = [
    "<string>:4:26: layers[0].conv2d.kernel_size: unknown key 'kernel_size' (did you mean 'kernel'?)",
    "<string>:5:5: layers[1].relu: unknown layer 'relu': relu is an activation",
    "<string>:6:5: layers[2]: a layer is a one-key mapping {kind: options}, not a Keras layer config",
    "<string>:6:41: layers[2].config.pool_size: unknown key 'pool_size' (did you mean 'pool'?)",
    "<string>:7:12: layers[3].dense: dense expects a flat (features,) input, got (13, 13, 8)",
    "<string>:8:9: train.lr: unknown key 'lr': the learning rate is the optimizer's",
]


def test_structural_and_naming_mistakes_are_reported_in_one_run() -> None:
    """The shape is carried on through the mistaken layers, so the missing flatten below them
    is found in the same run as they are."""
    found = problems_of(BOTH)
    assert len(found) == len(BOTH_EXPECTED), "\n".join(found)
    for problem, expected in zip(found, BOTH_EXPECTED, strict=True):
        assert problem.startswith(expected), problem


def test_the_shape_goes_on_from_a_top_level_input_shape() -> None:
    found = problems_of("normspec: 1\ninput_shape: [28, 28, 1]\nlayers:\n  - dense: 10\n")
    assert any("layers[0].dense: dense expects a flat (features,) input" in p for p in found)


def test_a_layer_guessed_from_a_mistake_reports_no_problem_of_its_own() -> None:
    """``Linear`` is read as dense to carry the shape on; the dense on an image it would be is
    not reported on top of the unknown name."""
    found = problems_of(HEAD + "layers:\n  - Linear: 10\n")
    assert len(found) == 1 and "unknown layer 'Linear' (did you mean 'dense'?)" in found[0]


def test_the_layer_kinds_are_listed_once() -> None:
    text = (
        HEAD + "layers:\n" + "".join(f"  - {k}\n" for k in ("Flaten", "blob", "Linear: 4", "zap"))
    )
    found = problems_of(text)
    listed = [p for p in found if "known layers: dense, conv1d, conv2d" in p]
    assert len(found) == 4 and len(listed) == 1, found
    assert listed[0] == found[0]


def test_the_cli_reports_them_located_with_status_2(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(BOTH)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert [line.removeprefix(f"{path}:") for line in lines] == [
        p.removeprefix("<string>:") for p in problems_of(BOTH)
    ]
