"""``--vary`` addresses one layer by index or name; identical variants are trained once."""

from __future__ import annotations

import pytest

from normspec.run.variations import AblationError, Variation, distinct, variants

SPEC = """\
normspec: 1
name: net
input: {shape: [8]}
defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
layers:
  - dense: 16
  - dense: {units: 16, name: hidden}
  - dropout: 0.1
  - dense: {units: 2, activation: softmax, norm: none}
"""


def ops(spec, kind: str):
    return [op for op in spec.ops if op.op == kind]


def vary(*options: str):
    return variants(SPEC, [Variation.parse(o) for o in options])


def test_a_layer_by_index_with_its_kind_and_a_shorthand_written_out() -> None:
    specs = vary("layers.0.dense.dropout=0,0.3")
    assert list(specs) == ["layers.0.dense.dropout=0", "layers.0.dense.dropout=0.3"]
    with_dropout = specs["layers.0.dense.dropout=0.3"]
    assert [op.rate for op in ops(with_dropout, "dropout")] == [0.3, 0.1]
    assert ops(with_dropout, "dense")[0].units == 16


def test_a_layer_by_name_and_without_its_kind() -> None:
    specs = vary("layers.hidden.units=8,32")
    assert [ops(s, "dense")[1].units for s in specs.values()] == [8, 32]
    assert all(ops(s, "dense")[0].units == 16 for s in specs.values())


def test_the_norm_of_one_layer() -> None:
    specs = vary("layers.1.norm=none,layer")
    kinds = [[op.op for op in s.ops] for s in specs.values()]
    assert kinds[0].count("batch_norm") == 1 and "layer_norm" not in kinds[0]
    assert kinds[1].count("batch_norm") == 1 and kinds[1].count("layer_norm") == 1


def test_a_scalar_layer_with_its_shorthand_field() -> None:
    specs = vary("layers.-2.rate=0.2,0.5")
    assert [ops(s, "dropout")[0].rate for s in specs.values()] == [0.2, 0.5]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("layers.9.units=1,2", "the spec has 4 layers (0 to 3)"),
        ("layers.fc.units=1,2", "no layer is named 'fc' (named layers: hidden)"),
        ("layers.0.conv2d.filters=1,2", "layer 0 is a dense, not conv2d"),
        ("layers.0=1,2", "name an option of layer 0"),
    ],
)
def test_a_layer_that_is_not_there_is_a_clear_error(option: str, message: str) -> None:
    with pytest.raises(AblationError, match="--vary") as caught:
        vary(option)
    assert message in str(caught.value)


def test_variants_with_the_same_canonical_spec_are_found() -> None:
    specs = vary("norm.position=before_activation,none", "norm.kind=batch,layer")
    assert distinct(specs) == {
        "norm.position=none, norm.kind=layer": "norm.position=none, norm.kind=batch"
    }
    assert distinct(vary("layers.0.units=8,16")) == {}
