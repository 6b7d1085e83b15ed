"""``normspec show``: MACs and FLOPs against hand calculations, activation memory at a batch
size, the detail of conv and group-norm rows, and ``--json`` agreeing with the table."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

import normspec
from normspec.cli import main
from normspec.costs import spec_cost
from normspec.summary import rows

DENSE = """\
normspec: 1
name: one_dense
input: {shape: [10]}
layers:
  - dense: {units: 7}
"""

CONV = """\
normspec: 1
name: one_conv
input: {shape: [9, 11, 4]}
layers:
  - conv2d: {filters: 6, kernel: [3, 2], strides: [2, 1], padding: [[1, 2], [0, 1]],
             groups: 2, dilation: [2, 1]}
  - group_norm: {groups: 3}
"""

SMALL = """\
normspec: 1
name: small
input: {shape: [6, 6, 1], normalize: {kind: rescale, scale: 0.5}}
layers:
  - conv2d: {filters: 2, kernel: 3, activation: relu}
  - residual: {body: [{conv2d: {filters: 2, kernel: 3, padding: same}}]}
  - max_pool2d: {pool: 2}
  - flatten
  - dense: {units: 3, activation: softmax}
train: {optimizer: adam, batch_size: 8}
"""

# conv output: height (9 + 1 + 2 - ((3 - 1) * 2 + 1)) // 2 + 1 = 4, width (11 + 0 + 1 - 2) + 1 = 11
CONV_MACS = 4 * 11 * 6 * (4 // 2) * (3 * 2)
# small: conv (4, 4, 2) from 1 channel, 3x3; the residual's conv (4, 4, 2) from 2 channels;
# dense 8 -> 3
SMALL_MACS = 4 * 4 * 2 * 1 * 9 + 4 * 4 * 2 * 2 * 9 + 8 * 3
SMALL_FLOPS = (
    36  # rescale: one per input element
    + 2 * 288  # conv
    + 32  # relu
    + 2 * 576 + 32  # the residual's conv and its add
    + 32  # max pool reads 4 x 4 x 2
    + 0  # flatten
    + 2 * 24  # dense
    + 3  # softmax
)  # fmt: skip
SMALL_OUTPUTS = 36 + 32 + 32 + 32 + 32 + 8 + 8 + 3 + 3  # every op's output, per sample


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def write(tmp_path, text: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


def row(spec: str, name: str):
    return next(r for r in rows(normspec.load(spec)) if r.name == name)


@pytest.mark.parametrize(
    ("spec", "name", "macs", "flops"),
    [
        (DENSE, "dense_1", 10 * 7, 2 * 10 * 7),
        (CONV, "conv2d_1", CONV_MACS, 2 * CONV_MACS),
        (CONV, "group_norm_1", 0, 4 * 11 * 6),
        (SMALL, "residual_1", 576, 2 * 576 + 32),
        (SMALL, "flatten_1", 0, 0),
    ],
)
def test_row_costs_match_hand_calculations(spec: str, name: str, macs: int, flops: int) -> None:
    r = row(spec, name)
    assert (r.macs, r.flops) == (macs, flops)


def test_conv_output_shape_is_the_one_the_hand_calculation_assumes() -> None:
    assert row(CONV, "conv2d_1").output_shape == (4, 11, 6)


def test_whole_spec_counts_residual_children_once() -> None:
    cost = spec_cost(normspec.load(SMALL))
    assert (cost.macs, cost.flops) == (SMALL_MACS, SMALL_FLOPS)


def test_table_shows_totals_padding_and_groups(tmp_path) -> None:
    out = cli("show", write(tmp_path, CONV))
    conv_line = next(line for line in out.splitlines() if line.startswith("conv2d_1"))
    assert "pad (1,2),(0,1)" in conv_line and "dilation 2x1" in conv_line
    assert "groups 2" in conv_line and f"{CONV_MACS:,}" in conv_line
    assert "groups=3" in next(line for line in out.splitlines() if line.startswith("group_norm"))
    assert "2 x MACs for dense and conv" in out


@pytest.mark.parametrize(("args", "batch"), [((), 8), (("--batch-size", "100"), 100)])
def test_activation_memory_at_the_batch_size(tmp_path, args: tuple[str, ...], batch: int) -> None:
    data = json.loads(cli("show", write(tmp_path, SMALL), "--json", *args))
    assert data["batch_size"] == batch
    assert data["totals"]["activation_bytes"] == SMALL_OUTPUTS * 4 * batch


def table_totals(text: str) -> dict[str, int]:
    found = dict(re.findall(r"^Total (params|MACs|FLOPs): ([\d,]+)", text, re.M))
    return {key.lower(): int(value.replace(",", "")) for key, value in found.items()}


def test_json_parses_and_agrees_with_the_table(tmp_path) -> None:
    path = write(tmp_path, SMALL)
    table, data = cli("show", path), json.loads(cli("show", path, "--json"))
    totals = data["totals"]
    assert table_totals(table) == {k: totals[k] for k in ("params", "macs", "flops")}
    assert totals["macs"] == SMALL_MACS and totals["flops"] == SMALL_FLOPS
    lines = table.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line) == {"-"}]
    names = [line.split()[0] for line in lines[rules[1] + 1 : rules[2]]]
    assert [r["name"] for r in data["rows"]] == names
    residual = next(r for r in data["rows"] if r["name"] == "residual_1")
    assert residual["output_shape"] == [4, 4, 2] and residual["depth"] == 0
    assert next(r for r in data["rows"] if r["name"] == "residual_1_conv2d_1")["depth"] == 1


def test_bad_batch_size_exits_2(tmp_path) -> None:
    result = CliRunner().invoke(main, ["show", write(tmp_path, SMALL), "--batch-size", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.stdout + result.stderr
