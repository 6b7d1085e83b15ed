"""Every class of invalid spec: the message, the field path and the line:column it points at."""

from __future__ import annotations

import textwrap

import pytest

import normspec
from normspec.errors import SpecError

HEAD = "normspec: 1\ninput: {shape: [8, 8, 3]}\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        normspec.load(textwrap.dedent(text))
    return [str(p) for p in info.value.problems]


# (case, spec text, expected "<line>:<col>: <path>: <message fragment>")
CASES = [
    ("yaml syntax", HEAD + "layers: [dense: 4\n", "4:1: <root>: YAML syntax error"),
    ("unknown top-level key", HEAD + "layer: []\n", "3:1: layer: unknown key 'layer' (did you mean 'layers'"),
    ("missing version", "input: {shape: [4]}\nlayers: [dense: 2]\n", "1:1: normspec: missing required key"),
    ("unknown layer", HEAD + "layers:\n  - flaten\n", "4:5: layers[0].flaten: unknown layer 'flaten' (did you mean 'flatten'"),
    ("unknown layer key", HEAD + "layers:\n  - con2d: 3\n", "4:5: layers[0].con2d: unknown layer 'con2d' (did you mean 'conv2d'"),
    ("unknown option", HEAD + "layers:\n  - conv2d: {filters: 3, kernal: 3}\n", "4:26: layers[0].conv2d.kernal: unknown key 'kernal' (did you mean 'kernel'"),
    ("wrong type", HEAD + "layers:\n  - conv2d: {filters: many}\n", "4:23: layers[0].conv2d.filters: should be a valid integer"),
    ("out of range", HEAD + "layers:\n  - dropout: 1.5\n", "4:14: layers[0].dropout.rate: should be less than 1"),
    ("absurd size", HEAD + "layers:\n  - flatten\n  - dense: 1000000000000\n", "5:12: layers[1].dense.units: should be less than or equal to 1048576"),
    ("unknown activation", HEAD + "defaults: {activation: rellu}\nlayers: [flatten]\n", "3:24: defaults.activation: got 'rellu'"),
    ("unknown norm", HEAD + "defaults: {norm: {kind: batchnorm}}\nlayers: [flatten]\n", "3:25: defaults.norm.kind: got 'batchnorm'"),
    ("misplaced parameter", HEAD + "layers:\n  - activation: {function: relu, alpha: 1}\n", "4:41: layers[0].activation.alpha: 'alpha' does not apply to relu"),
    ("norm param of other kind", HEAD + "layers:\n  - conv2d: {filters: 4, norm: {kind: layer, momentum: 0.1}}\n", "layers[0].conv2d.norm.momentum: 'momentum' does not apply to layer norm"),
    ("dense on 4-D", HEAD + "layers:\n  - dense: 4\n", "4:12: layers[0].dense: dense expects a flat (features,) input, got (8, 8, 3); add a flatten"),
    ("kernel larger than input", HEAD + "layers:\n  - conv2d: {filters: 2, kernel: 9}\n", "4:34: layers[0].conv2d.kernel: kernel (9, 9) is larger than its padded input (8, 8)"),
    ("groups not dividing", HEAD + "layers:\n  - conv2d: {filters: 4, groups: 2}\n", "4:34: layers[0].conv2d.groups: groups=2 must divide both input channels (3)"),
    ("group norm groups", HEAD + "layers:\n  - group_norm: 2\n", "layers[0].group_norm.groups: groups=2 does not divide the 3 channels"),
    ("residual mismatch", HEAD + "layers:\n  - residual: {body: [conv2d: 5], shortcut: identity}\n", "layers[0].residual.shortcut: residual add of mismatched shapes: body gives (6, 6, 5), shortcut gives (8, 8, 3); use shortcut: projection"),
    ("duplicate name", HEAD + "layers:\n  - flatten: {name: a}\n  - dense: {units: 2, name: a}\n", "5:29: layers[1].dense.name: duplicate layer name 'a'"),
    ("derived name taken", HEAD + "defaults: {norm: batch}\nlayers:\n  - flatten: {name: fc_bn}\n  - dense: {units: 2, name: fc}\n  - dense: 2\n", "6:12: layers[1].dense: this layer names one of its ops 'fc_bn', which another layer already has"),
    ("reserved name", HEAD + "layers:\n  - flatten: {name: forward}\n", "4:21: layers[0].flatten.name: 'forward' is reserved"),
    ("code in a name", HEAD + "layers:\n  - flatten: {name: 'x); import os'}\n", "layers[0].flatten.name: must be a valid identifier"),
    ("object tag", HEAD + "layers:\n  - !!python/object/apply:os.system [ls]\n", "4:5: layers[0]: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("duplicate key", HEAD + "layers:\n  - conv2d: {filters: 2, filters: 3}\n", "4:26: layers[0].conv2d.filters: duplicate key 'filters'"),
    ("declared shape", HEAD + "layers:\n  - conv2d: {filters: 2, shape: [8, 8, 2]}\n", "4:33: layers[0].conv2d.shape: declared shape [8, 8, 2] but inferred (6, 6, 2)"),
    ("bad order", HEAD + "layers:\n  - conv2d: {filters: 2, norm: batch, order: [conv, act]}\n", "layers[0].conv2d.order: order leaves out 'norm'"),
    ("instance norm on flat", "normspec: 1\ninput: {shape: [4]}\nlayers:\n  - instance_norm\n", "layers[0].instance_norm: instance norm needs spatial axes"),
    ("instance norm on 1x1", "normspec: 1\ninput: {shape: [2, 2, 3]}\nlayers:\n  - max_pool2d: 2\n  - instance_norm\n", "layers[1].instance_norm: instance norm needs more than one spatial position, got (1, 1, 3)"),
    ("empty spec", "", "1:1: <root>: the spec is empty"),
    ("option beside its layer", HEAD + "layers:\n  - conv2d:\n      filters: 3\n    kernel: 3\n", "4:5: layers[0]: a layer is a one-key mapping like {conv2d: 32} or a bare name; 'kernel' sits beside conv2d, not inside it: indent it under conv2d's options"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_is_located_and_explained(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(expected in p for p in found), "\n".join(found)
    assert all(p.startswith("<string>:") for p in found)


def test_every_problem_of_a_spec_is_reported() -> None:
    text = HEAD + textwrap.dedent(
        """\
        defaults: {activation: rellu}
        layers:
          - conv2d: {filters: 2, kernal: 3}
          - dropout: 2
          - maxpool2d: 2
        """
    )
    found = problems_of(text)
    assert len(found) == 4, found
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)


def test_alias_bomb_is_refused_quickly() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    found = problems_of(bomb)
    assert "expands to more than" in found[0]


def test_huge_text_is_refused() -> None:
    found = problems_of("# " + "x" * 3_000_000 + "\n")
    assert "larger than" in found[0]


def test_missing_file_names_it(tmp_path) -> None:
    with pytest.raises(SpecError) as info:
        normspec.load(tmp_path / "absent.yaml")
    assert "absent.yaml:1:1" in str(info.value)
    assert "no such file" in str(info.value)


FLAT_HEAD = "normspec: 1\ninput: {shape: [4]}\n"

# Values that a lax parser would convert or accept silently.
STRICT_CASES = [
    ("float for a size", FLAT_HEAD + "layers:\n  - dense: {units: 3.0}\n", "layers[0].dense.units: should be a valid integer"),
    ("bool for a size", FLAT_HEAD + "layers:\n  - dense: {units: true}\n", "layers[0].dense.units: should be a valid integer"),
    ("text for a bool", FLAT_HEAD + "layers:\n  - dense: {units: 2, use_bias: 'yes'}\n", "layers[0].dense.use_bias"),
    ("text for a number", FLAT_HEAD + "layers:\n  - dropout: '0.5'\n", "layers[0].dropout.rate: should be a valid number"),
    ("bool for the version", "normspec: true\ninput: {shape: [4]}\nlayers: [dense: 2]\n", "1:11: normspec: the format version is the integer 1"),
    ("float for the version", "normspec: 1.0\ninput: {shape: [4]}\nlayers: [dense: 2]\n", "normspec: the format version is the integer 1"),
    ("text in the input shape", "normspec: 1\ninput: {shape: ['8', 8]}\nlayers: [flatten]\n", "input.shape[0]: should be a valid integer"),
    ("nan", FLAT_HEAD + "layers:\n  - dropout: .nan\n", "layers[0].dropout.rate: should be a finite number"),
    ("infinite scale", "normspec: 1\ninput: {shape: [4], normalize: {kind: rescale, scale: .inf}}\nlayers: [dense: 2]\n", "input.normalize.scale: should be a finite number"),
    ("infinite initializer", FLAT_HEAD + "layers:\n  - dense: {units: 2, bias_init: {distribution: constant, value: .inf}}\n", "layers[0].dense.bias_init.value: should be a finite number"),
    ("uniform upside down", FLAT_HEAD + "layers:\n  - dense: {units: 2, kernel_init: {distribution: uniform, low: 1.0, high: -1.0}}\n", "layers[0].dense.kernel_init: low (1.0) is above high (-1.0)"),
    ("negative std", FLAT_HEAD + "layers:\n  - dense: {units: 2, kernel_init: {distribution: normal, mean: 0, std: -1}}\n", "layers[0].dense.kernel_init.std: should be greater than 0"),
    ("truncated without mass", FLAT_HEAD + "layers:\n  - dense: {units: 2, kernel_init: {distribution: truncated_normal, mean: 0, std: 1, low: 40, high: 41}}\n", "keeps less than 0.1% of Normal(0.0, 1.0)"),
    ("full-width name", FLAT_HEAD + "layers:\n  - dense: {units: 2, name: ｆｏｒｗａｒｄ}\n", "layers[0].dense.name: must be a valid identifier: ASCII"),
    ("ligature name", FLAT_HEAD + "layers:\n  - dense: {units: 2, name: ﬁlter}\n", "must be a valid identifier: ASCII"),
    ("torch module attribute", FLAT_HEAD + "layers:\n  - dense: {units: 2, name: to}\n", "layers[0].dense.name: 'to' is reserved"),
    ("absurd input", "normspec: 1\ninput: {shape: [1048576, 1048576, 1048576]}\nlayers: [global_avg_pool]\n", "input.shape: input (1048576, 1048576, 1048576) has more than 2,147,483,648 elements"),
    ("absurd network", "normspec: 1\ninput: {shape: [90000]}\nlayers:\n" + "  - dense: 90000\n" * 2, "layers: the network has 16,200,180,000 parameters, more than normspec allows"),
    ("block norm groups", HEAD + "layers:\n  - conv2d: {filters: 6, norm: group}\n", "4:32: layers[0].conv2d.norm: groups=32 does not divide the 6 channels"),
    ("foreign optimizer key", FLAT_HEAD + "layers: [dense: 2]\ntrain: {optimizer: {kind: adam, momentum: 0.9}}\n", "train.optimizer.momentum: unknown key 'momentum'; allowed keys: beta1, beta2, epsilon, kind, learning_rate"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES]
)
def test_wrong_types_and_values_are_refused_not_converted(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(expected in p for p in found), "\n".join(found)


def test_numbers_with_an_exponent_are_numbers() -> None:
    """``1e-3`` is text in YAML 1.1 (PyYAML), a number in YAML 1.2 and to every user."""
    spec = normspec.load(FLAT_HEAD + "layers:\n  - batch_norm: {epsilon: 1e-3, momentum: 2E-1}\n")
    assert (spec.ops[0].epsilon, spec.ops[0].momentum) == (0.001, 0.2)


def test_shape_inference_goes_on_after_a_problem() -> None:
    """A bad ``groups`` keeps the shape, so the later layers are still checked."""
    text = textwrap.dedent(
        """\
        normspec: 1
        input: {shape: [8, 8, 6]}
        layers:
          - conv2d: {filters: 8, padding: same}
          - group_norm: 3
          - flatten
          - dense: {units: 4, shape: [5]}
        """
    )
    found = problems_of(text)
    assert any("layers[1].group_norm.groups: groups=3 does not divide" in p for p in found)
    assert any("layers[3].dense.shape: declared shape [5] but inferred (4,)" in p for p in found)


def test_an_invalid_residual_still_reports_its_body() -> None:
    text = HEAD + textwrap.dedent(
        """\
        layers:
          - residual: {body: [{conv2d: {filters: 3, padding: same, strdes: 2}}], shortcut: identiy}
        """
    )
    found = problems_of(text)
    assert any("layers[0].residual.shortcut: got 'identiy'" in p for p in found), found
    assert any("layers[0].residual.body[0].conv2d.strdes: unknown key" in p for p in found), found


def test_generated_names_avoid_the_names_a_user_gave() -> None:
    """An unnamed conv is not called conv2d_1 when the user named a layer conv2d_1_bn, which
    would be its batch norm's name."""
    spec = normspec.load(
        HEAD + "defaults: {norm: batch}\nlayers:\n"
        "  - conv2d: {filters: 4, name: conv2d_1_bn}\n  - conv2d: 4\n"
    )
    names = [site.op.name for site in spec.nodes]
    assert len(names) == len(set(names))
    assert "conv2d_1_bn" in names and "conv2d_2" in names and "conv2d_1" not in names


def test_a_network_too_big_for_its_canonical_form_is_refused() -> None:
    text = FLAT_HEAD + "layers:\n" + "  - activation: relu\n" * 5001
    found = problems_of(text)
    assert any("layers: the network has 5,001 ops after expansion" in p for p in found), found


# (case, spec text, path of the problem, the name it suggests)
SUGGESTION_CASES = [
    ("activation case", FLAT_HEAD + "layers:\n  - dense: {units: 2, activation: ReLU}\n", "layers[0].dense.activation", "relu"),
    ("GELU", FLAT_HEAD + "defaults: {activation: GELU}\nlayers: [dense: 2]\n", "defaults.activation", "gelu"),
    ("LeakyReLU", FLAT_HEAD + "layers:\n  - activation: LeakyReLU\n", "layers[0].activation.function", "leaky_relu"),
    ("padding case", HEAD + "layers:\n  - conv2d: {filters: 2, padding: SAME}\n", "layers[0].conv2d.padding", "same"),
    ("VALID", HEAD + "layers:\n  - max_pool2d: {pool: 2, padding: VALID}\n", "layers[0].max_pool2d.padding", "valid"),
    ("Keras batch norm", HEAD + "layers:\n  - BatchNormalization\n", "layers[0].BatchNormalization", "batch_norm"),
    ("PyTorch batch norm", HEAD + "layers:\n  - BatchNorm2d: {epsilon: 0.001}\n", "layers[0].BatchNorm2d", "batch_norm"),
    ("bn", HEAD + "layers:\n  - bn\n", "layers[0].bn", "batch_norm"),
    ("bn as a norm kind", HEAD + "defaults: {norm: bn}\nlayers: [flatten]\n", "defaults.norm", "batch"),
    ("BatchNorm as a norm kind", HEAD + "defaults: {norm: {kind: BatchNorm}}\nlayers: [flatten]\n", "defaults.norm.kind", "batch"),
    ("LayerNormalization", HEAD + "layers:\n  - LayerNormalization\n", "layers[0].LayerNormalization", "layer_norm"),
    ("Keras pooling", HEAD + "layers:\n  - MaxPooling2D: 2\n", "layers[0].MaxPooling2D", "max_pool2d"),
    ("PyTorch pooling", HEAD + "layers:\n  - MaxPool2d: 2\n", "layers[0].MaxPool2d", "max_pool2d"),
    ("global pooling", HEAD + "layers:\n  - GlobalAveragePooling2D\n", "layers[0].GlobalAveragePooling2D", "global_avg_pool"),
    ("Keras conv", HEAD + "layers:\n  - Conv2D: 8\n", "layers[0].Conv2D", "conv2d"),
    ("PyTorch conv", HEAD + "layers:\n  - Conv2d: 8\n", "layers[0].Conv2d", "conv2d"),
    ("PyTorch linear", FLAT_HEAD + "layers:\n  - Linear: 8\n", "layers[0].Linear", "dense"),
    ("Keras dense", FLAT_HEAD + "layers:\n  - Dense: 8\n", "layers[0].Dense", "dense"),
    ("Dropout", FLAT_HEAD + "layers:\n  - Dropout: 0.5\n", "layers[0].Dropout", "dropout"),
    ("lr", FLAT_HEAD + "layers: [dense: 2]\ntrain: {optimizer: {kind: sgd, lr: 0.1}}\n", "train.optimizer.lr", "learning_rate"),
    ("kernel_size", HEAD + "layers:\n  - conv2d: {filters: 2, kernel_size: 3}\n", "layers[0].conv2d.kernel_size", "kernel"),
    ("eps", FLAT_HEAD + "layers:\n  - batch_norm: {eps: 0.001}\n", "layers[0].batch_norm.eps", "epsilon"),
    ("Keras loss", FLAT_HEAD + "layers: [dense: 2]\ntrain: {loss: categorical_crossentropy}\n", "train.loss", "cross_entropy"),
    ("optimizer case", FLAT_HEAD + "layers: [dense: 2]\ntrain: {optimizer: SGD}\n", "train.optimizer", "sgd"),
    ("a typo still", HEAD + "layers:\n  - flaten\n", "layers[0].flaten", "flatten"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "path", "name"),
    [c[1:] for c in SUGGESTION_CASES],
    ids=[c[0] for c in SUGGESTION_CASES],
)
def test_other_frameworks_names_and_case_get_a_suggestion(text: str, path: str, name: str) -> None:
    found = problems_of(text)
    assert any(f": {path}: " in p and f"(did you mean '{name}'?)" in p for p in found), found


OPTIMIZER_FORMS = (
    "write optimizer as a name ('sgd', 'momentum' or 'adam') or as a mapping "
    "{kind: sgd | momentum, learning_rate, momentum, nesterov} or "
    "{kind: adam, learning_rate, beta1, beta2, epsilon}"
)

# (case, train section, expected problems)
TAGGED_MAPPING_CASES = [
    ("kind in another case", "{optimizer: {kind: Adam, lr: 0.001}}", [
        f"4:27: train.optimizer.kind: got 'Adam' (did you mean 'adam'?); {OPTIMIZER_FORMS}",
        "4:33: train.optimizer.lr: unknown key 'lr' (did you mean 'learning_rate'?); "
        "allowed keys: beta1, beta2, epsilon, kind, learning_rate",
    ]),
    ("no kind", "{optimizer: {lr: 0.001}}", [
        f"4:20: train.optimizer: missing required key 'kind'; {OPTIMIZER_FORMS}",
        "4:21: train.optimizer.lr: unknown key 'lr' (did you mean 'learning_rate'?)",
    ]),
    ("unknown kind", "{optimizer: {kind: rmsprop}}", [
        f"4:27: train.optimizer.kind: got 'rmsprop'; {OPTIMIZER_FORMS}",
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("train", "expected"),
    [c[1:] for c in TAGGED_MAPPING_CASES],
    ids=[c[0] for c in TAGGED_MAPPING_CASES],
)
def test_a_mapping_with_a_wrong_tag_lists_both_forms(train: str, expected: list[str]) -> None:
    found = problems_of(FLAT_HEAD + f"layers: [dense: 2]\ntrain: {train}\n")
    assert len(found) == len(expected), found
    for problem, fragment in zip(found, expected, strict=True):
        assert problem.startswith(f"<string>:{fragment}"), found


def test_an_initializer_mapping_with_a_wrong_tag_lists_its_forms() -> None:
    text = FLAT_HEAD + "layers:\n  - dense: {units: 2, kernel_init: {distribution: Normal}}\n"
    (found,) = problems_of(text)
    assert (
        "layers[0].dense.kernel_init.distribution: got 'Normal' (did you mean 'normal'?)" in found
    )
    assert "'torch_default', 'zeros' or 'ones') or as a mapping" in found
    assert "{distribution: normal, mean, std}" in found


# (case, input shape, layers, the problem at input.shape or None)
CHANNELS_FIRST_CASES = [
    ("MNIST", "[1, 28, 28]", "[conv2d: 8]", "2:16: input.shape: input shape [1, 28, 28] looks channels-first, but normspec shapes are channels-last (height, width, channels): write [28, 28, 1]"),
    ("CIFAR, fails at the pool", "[3, 32, 32]", "[conv2d: 8, max_pool2d: 2]", "input.shape: input shape [3, 32, 32] looks channels-first, but normspec shapes are channels-last (height, width, channels): write [32, 32, 3]"),
    ("RGBA", "[4, 64, 64]", "[max_pool2d: 8]", "write [64, 64, 4]"),
    ("sequence", "[1, 100]", "[conv1d: 4]", "channels-last (length, channels): write [100, 1]"),
    ("channels-last, kernel too large", "[28, 28, 1]", "[{conv2d: {filters: 2, kernel: 29}}]", None),
    ("small image with many channels", "[4, 4, 16]", "[{conv2d: {filters: 2, kernel: 5}}]", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "layers", "expected"),
    [c[1:] for c in CHANNELS_FIRST_CASES],
    ids=[c[0] for c in CHANNELS_FIRST_CASES],
)
def test_a_channels_first_input_is_named_at_the_input_shape(
    shape: str, layers: str, expected: str | None
) -> None:
    found = problems_of(f"normspec: 1\ninput: {{shape: {shape}}}\nlayers: {layers}\n")
    assert any("is larger than its padded input" in p for p in found), found
    at_input = [p for p in found if ": input.shape: " in p]
    if expected is None:
        assert at_input == [], found
    else:
        assert len(at_input) == 1 and expected in at_input[0], found
