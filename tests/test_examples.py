"""The examples reproduce the users' questions end to end (each run here with fewer epochs)."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT
from test_backends_shared import available


def example(name: str) -> ModuleType:
    path = ROOT / "examples" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses look their module up
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_threshold_needs_input_normalization(tmp_path: Path) -> None:
    """The classic question: without input normalization the net stays at chance, batch norm
    after the first layer does not rescue it, input normalization solves it at once."""
    found, lines = example("threshold_normalization").run("torch", 1, tmp_path)
    results = {r.label: r for r in found}
    accuracy = {label: r.runs[0].final["val_accuracy"] for label, r in results.items()}
    why = dict(line.split(": ", 1) for line in lines)
    for variant in ("plain", "batch_norm"):  # the tanh before any batch norm saturates
        assert "dense_1_tanh 100% saturated at the first step, 100% at the last" in why[variant]
        assert "gradient norm of dense_1's kernel" in why[variant]
    assert "dense_1_tanh 0% saturated at the first step" in why["input_norm"]
    assert "## Why" in (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    assert ">Why<" in html and "dense_1_tanh 100% saturated at the first step" in html
    assert accuracy["plain"] < 0.6 and [o.label for o in results["plain"].outcomes()] == ["stuck"]
    assert accuracy["batch_norm"] < 0.6
    assert accuracy["input_norm"] >= 0.99
    assert accuracy["both"] >= 0.95
    assert "| input_norm |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "curves.png").exists()


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_relu_after_batch_norm_is_measured_not_idle(tmp_path: Path) -> None:
    """The question "BN squashes into [0, 1], so ReLU after it does nothing?", answered from
    diagnostics: batch norm's output is about half negative and beyond [0, 1], and the ReLU
    zeroes exactly what was negative, at the start and the end of training."""
    found, answer = example("bn_then_relu").run("torch", 1, tmp_path)
    assert {(f.norm, f.relu) for f in found} == {
        ("conv2d_1_bn", "conv2d_1_relu"), ("conv2d_2_bn", "conv2d_2_relu"),
        ("dense_1_bn", "dense_1_relu"),
    }  # fmt: skip
    for f in found:
        assert f.low < 0 < 1 < f.high
        assert 0.3 < f.negative < 0.7
        assert abs(f.zeroed - f.negative) < 0.02  # ReLU zeroes what batch norm made negative
    assert answer.startswith("ReLU after batch norm is not idle")
    report = (tmp_path / "report.md").read_text()
    assert answer in report and (tmp_path / "diagnostics.csv").exists()


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_dropout_before_batch_norm_shows_a_variance_shift(tmp_path: Path) -> None:
    """The BN-with-dropout question, measured over seeds: dropout right before a batch norm
    leaves it a test-time variance well below its running variance (about 1 - rate), dropout
    after it does not; the report compares every pair of variants."""
    module = example("bn_dropout_seeds")
    results, lines = module.run("torch", 2, 2, tmp_path)
    assert [r.label for r in results] == ["dropout_before_bn", "dropout_after_bn", "no_bn"]
    shift = {r.label: module.variance_shifts(r, i, tmp_path).get("dense_1_bn")
             for i, r in enumerate(results, start=1)}  # fmt: skip
    assert shift["no_bn"] is None
    assert all(0.5 < v < 0.85 for v in shift["dropout_before_bn"])
    assert all(0.9 < v < 1.1 for v in shift["dropout_after_bn"])
    assert lines[-1].startswith("With dropout before it, dense_1_bn sees at test time")
    assert "dropout_before_bn vs no_bn" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_bn_placement_on_the_questions_cnn(tmp_path: Path) -> None:
    """ "Where to apply batch normalization on standard CNNs": the question's CNN with batch
    norm before the ReLU, after it, and none, over seeds. The layer orders (and their Keras
    layers) put batch norm where each variant says and none on the output layer; every
    variant learns the digits; after the first epoch both placements of batch norm are ahead
    of none on average; every pair gets Welch's verdict after epoch 1 and at the end."""
    module = example("bn_placement_cnn")
    orders = module.layer_orders(module.placements())
    assert orders[0].startswith(
        "before_activation: input_norm -> conv1 -> conv1_bn -> conv1_relu -> pool1"
    )
    assert (
        'Conv2D without bias -> BatchNormUnbiased (a BatchNormalization) -> Activation("relu") -> MaxPooling2D'
        in orders[1]
    )
    assert "fc1 -> fc1_relu -> fc1_bn -> fc2 -> fc2_softmax" in orders[2]
    assert (
        'Dense -> Activation("relu") -> BatchNormUnbiased (a BatchNormalization) -> Dense -> Softmax'
        in orders[3]
    )
    assert orders[4].startswith("none:") and "_bn" not in orders[4] and "BatchNorm" not in orders[5]
    results, lines = module.run("torch", 4, 2, tmp_path)
    assert [r.label for r in results] == ["before_activation", "after_activation", "none"]
    assert all(o.label == "trained" for r in results for o in r.outcomes())
    first = {r.label: statistics.mean(module.accuracy_after(r, 1)) for r in results}
    final = {r.label: statistics.mean(module.accuracy_after(r, None)) for r in results}
    assert all(a > 0.9 for a in final.values()), final
    assert (
        first["before_activation"] > first["none"] and first["after_activation"] > first["none"]
    ), first
    pairs = [
        "before_activation vs after_activation",
        "before_activation vs none",
        "after_activation vs none",
    ]
    for when in ("after epoch 1", "at the end"):
        for pair in pairs:
            assert sum(line.startswith(f"{when}: {pair}: ") and "Welch's t-test, p = " in line
                       for line in lines) == 1, (when, pair)  # fmt: skip
    assert lines[-2].startswith("Mean validation accuracy over 4 seeds, after epoch 1: ")
    assert lines[-1].startswith("At the end: ")
    assert "before_activation vs none" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_elu_network_without_batch_norm_on_raw_pixels(tmp_path: Path) -> None:
    """The ELU CNN that "does not train" without the batch norm of its dense layer, on pixels
    0..255: at the first step the dense layer's outputs are far larger than on scaled inputs,
    the softmax is saturated on most of the probe and the dense kernel's gradient is much
    larger than with the batch norm; after two epochs that network is still at chance, its
    dense layer pushed into ELU's negative, flat side, while the batch norm or scaled inputs
    let it learn."""
    module = example("elu_without_bn")
    results, dense, lines = module.run("torch", 1, 2, tmp_path)
    first = {d.variant: d for d in dense if d.step == 0}
    last = {d.variant: d for d in dense if d.step > 0}
    bare, bn, scaled = first["elu_no_bn"], first["elu_bn_dense"], first["elu_no_bn_scaled"]
    assert bare.std > 20 * scaled.std
    assert bare.saturated > 0.5 and bn.saturated < 0.05 and scaled.saturated < 0.05
    assert bare.grad_norm > 20 * bn.grad_norm and bare.grad_norm > 20 * scaled.grad_norm
    assert 0.9 < bn.entering_std < 1.1 and bn.std == pytest.approx(bare.std, rel=1e-3)
    assert last["elu_no_bn"].negative > 0.75 and last["elu_no_bn"].entering_mean < -1
    chance = results["elu_no_bn"].chance
    accuracy = {label: r.runs[0].final["val_accuracy"] for label, r in results.items()}
    assert accuracy["elu_no_bn"] < chance + 0.05, accuracy
    for label in ("bn_relu", "elu_bn_dense", "elu_no_bn_scaled"):
        assert accuracy[label] > chance + 0.4, accuracy
    assert module.epochs_at_chance(results["elu_no_bn"]) == [2]
    assert module.epochs_at_chance(results["bn_relu"]) == [0]
    assert any(line.startswith("elu_no_bn: 1/1 stuck") for line in lines)
    assert any(line.startswith("Without fc1's batch norm the ELU network ends") for line in lines)
    assert (tmp_path / "diagnostics" / "v3_seed0" / "diagnostics.csv").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not all(map(available, ("torch", "keras", "flax"))), reason="needs every backend"
)
def test_built_files_train_with_each_frameworks_own_tools(tmp_path: Path) -> None:
    accuracy = example("native_training").run(3, tmp_path)
    assert set(accuracy) == {"torch", "keras", "flax"}
    assert all(a > 0.85 for a in accuracy.values()), accuracy
    assert sorted(p.name for p in tmp_path.glob("*.py")) == [
        "mlp_flax.py",
        "mlp_keras.py",
        "mlp_torch.py",
    ]
