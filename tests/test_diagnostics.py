"""The diagnostics statistics (normspec.run.diagnostics) on hand-made arrays, and the
collector, csv and plots without any framework."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.files import RUN_FILES
from normspec.run import diagnostics as d
from normspec.run.diagnostic_plots import DIAGNOSTICS_FILES, save_diagnostics, stat_grid

MLP = """\
normspec: 1
name: diag_mlp
input: {shape: [3]}
layers:
  - dense: {units: 4, norm: {kind: batch, position: before_activation}, activation: tanh}
  - dense: {units: 2, activation: softmax}
"""


def test_output_stats_on_a_hand_made_array() -> None:
    y = np.array([[0.0, -1.0, 2.0], [0.0, 3.0, -4.0]])
    stats = d.output_stats(y)
    assert stats["mean"] == 0.0
    assert stats["std"] == pytest.approx(np.sqrt((1 + 4 + 9 + 16) / 6))
    assert (stats["min"], stats["max"]) == (-4.0, 3.0)
    assert stats["zero_fraction"] == pytest.approx(2 / 6)
    assert stats["negative_fraction"] == pytest.approx(2 / 6)
    assert stats["dead_fraction"] == pytest.approx(1 / 3)  # the first unit: zero in every sample


def test_a_unit_is_dead_only_when_zero_for_every_sample_and_position() -> None:
    y = np.zeros((2, 3, 3, 4))  # (batch, height, width, channels)
    y[..., 1] = 1.0  # alive everywhere
    y[1, 2, 2, 2] = 0.5  # alive at one position of one sample
    y[..., 3] = -0.0  # negative zero is zero
    assert d.dead_fraction(y) == pytest.approx(2 / 4)
    assert d.dead_fraction(np.array([[0.0, 1e-30]])) == 0.5


def test_saturation_per_activation() -> None:
    tanh = np.array([[0.995, -0.999, 0.5, -0.99]])
    assert d.saturated_fraction("tanh", tanh) == pytest.approx(2 / 4)  # 0.99 itself is not
    sigmoid = np.array([[0.005, 0.995, 0.5, 0.01]])
    assert d.saturated_fraction("sigmoid", sigmoid) == pytest.approx(2 / 4)
    softmax = np.array([[0.995, 0.005], [0.6, 0.4], [0.001, 0.999]])
    assert d.saturated_fraction("softmax", softmax) == pytest.approx(2 / 3)
    assert d.saturated_fraction("relu", tanh) is None


def test_variance_and_mean_shift_against_running_statistics() -> None:
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [7.0, 10.0]])  # var 5 and 0
    assert d.variance_shift(x, np.array([5.0, 1.0])) == pytest.approx((1.0 + 0.0) / 2)
    assert d.variance_shift(x, np.array([2.5, 2.0])) == pytest.approx((2.0 + 0.0) / 2)
    images = np.stack([np.full((2, 2, 1), v) for v in (0.0, 2.0)])  # per channel over N, H, W
    assert d.variance_shift(images, np.array([1.0])) == pytest.approx(1.0)
    shift = d.mean_shift(x, np.array([4.0, 7.0]), np.array([1.0, 9.0]), epsilon=0.0)
    assert shift == pytest.approx((0.0 + 3.0 / 3.0) / 2)


def test_update_ratio() -> None:
    w = np.array([[3.0, 0.0], [0.0, 4.0]])  # norm 5
    assert d.update_ratio(w, w) == 0.0
    assert d.update_ratio(w, w + np.array([[0.0, 0.0], [0.0, 1.0]])) == pytest.approx(0.2)
    assert np.isnan(d.update_ratio(np.zeros(3), np.ones(3)))


def fake_outputs(spec, x: np.ndarray, scale: float) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    return {op.name: scale * rng.normal(size=(len(x), *op.shape)) for op in spec.ops}


def test_op_stats_names_every_op_and_the_stats_it_has() -> None:
    spec = normspec.load(MLP)
    weights = normspec.init_weights(spec, seed=0)
    x = np.arange(12.0).reshape(4, 3)
    outputs = fake_outputs(spec, x, 1.0)
    rows = d.op_stats(spec, x, outputs, weights)
    stats = {(op, stat) for op, stat, _ in rows}
    names = [op.name for op in spec.ops]
    assert {op for op, _ in stats} == set(names)
    assert all((name, s) in stats for name in names for s in d.OUTPUT_STATS)
    tanh, bn = "dense_1_tanh", "dense_1_bn"
    assert {op for op, s in stats if s == "saturated_fraction"} == {tanh, "dense_2_softmax"}
    assert {s for op, s in stats if op == bn} >= {"variance_shift", "mean_shift"}
    assert [op for op, s in stats if s == "variance_shift"] == [bn]
    value = next(v for op, s, v in rows if op == bn and s == "variance_shift")
    # the norm's input is the previous op's output (dense_1), against its running variance 1
    assert value == pytest.approx(float(np.mean(outputs["dense_1"].var(axis=0))))


RESIDUAL = """\
normspec: 1
name: diag_residual
input: {shape: [4, 4, 2]}
layers:
  - conv2d: {filters: 2, padding: same}
  - residual:
      name: block
      body: [{conv2d: {filters: 2, padding: same, norm: batch, activation: relu}}]
  - flatten
"""


def test_op_stats_cover_the_ops_inside_residual_blocks() -> None:
    """Each op of a block and the block's add get their own rows; a batch norm inside a block
    is compared with the output of the conv before it."""
    spec = normspec.load(RESIDUAL)
    weights = normspec.init_weights(spec, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 4, 4, 2))
    outputs, _ = reference.forward(spec, weights, x, train=False)
    rows = d.op_stats(spec, x, outputs, weights)
    ops = list(dict.fromkeys(op for op, _, _ in rows))
    assert ops == [node.name for node in spec.nodes]
    assert {"block_conv2d_1", "block_conv2d_1_bn", "block_conv2d_1_relu", "block"} <= set(ops)
    shift = next(v for op, s, v in rows if op == "block_conv2d_1_bn" and s == "variance_shift")
    assert shift == pytest.approx(float(np.mean(outputs["block_conv2d_1"].var(axis=(0, 1, 2)))))


def test_the_collector_records_steps_update_ratios_and_histogram_samples(tmp_path: Path) -> None:
    spec = normspec.load(MLP)
    w0 = normspec.init_weights(spec, seed=0)
    w1 = {k: v * 1.5 for k, v in w0.items()}
    x = np.ones((4, 3))
    diag = d.Diagnostics(spec, x, every=5)
    diag.record(0, fake_outputs(spec, x, 1.0), w0)
    diag.record(5, fake_outputs(spec, x, 2.0), w1)
    assert diag.steps == [0, 5]
    ratios = {op: v for step, op, s, v in diag.rows if s == "update_ratio"}
    assert ratios == pytest.approx({"dense_1": 0.5, "dense_2": 0.5})
    assert not [r for r in diag.rows if r[2] == "update_ratio" and r[0] == 0]
    assert diag.shown == ["dense_1_bn", "dense_1_tanh", "dense_2_softmax"]
    np.testing.assert_allclose(diag.last["dense_1_tanh"], 2 * diag.first["dense_1_tanh"])
    assert diag.due(10) and not diag.due(11)
    with pytest.raises(ValueError, match="interval"):
        d.Diagnostics(spec, x, every=0)

    plots = save_diagnostics(tmp_path, diag, "diag_mlp")
    assert d.read_csv(tmp_path / "diagnostics.csv") == diag.rows
    header = (tmp_path / "diagnostics.csv").read_text().splitlines()[0]
    assert header == "step,op,stat,value"
    assert {p.name for p in plots} == {f.name for f in tmp_path.glob("*.png")}
    assert "diagnostics_saturated_fraction.png" in {p.name for p in plots}
    assert {p.name for p in tmp_path.iterdir()} <= DIAGNOSTICS_FILES <= RUN_FILES


def test_stat_grid_is_ops_by_steps_with_gaps() -> None:
    rows = [(0, "a", "std", 1.0), (0, "b", "std", 2.0), (5, "a", "std", 3.0), (5, "a", "max", 9.0)]
    ops, steps, grid = stat_grid(rows, "std")
    assert ops == ["a", "b"] and steps == [0, 5]
    assert grid[0].tolist() == [1.0, 3.0] and grid[1, 0] == 2.0 and np.isnan(grid[1, 1])


def test_histogram_sample_is_bounded_and_keeps_small_outputs_whole() -> None:
    assert d.histogram_sample(np.arange(10.0), limit=100).tolist() == list(range(10))
    sample = d.histogram_sample(np.arange(1000.0), limit=10)
    assert len(sample) == 10 and sample[0] == 0 and sample[-1] == 999
