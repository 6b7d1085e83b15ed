"""The framework-backed commands end to end: compare (parity and --train), weights convert and
init, train and ablate. Each runs the real command line in this process on tiny data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_reports import epochs_after, table_after

import normspec
from normspec.cli import main
from normspec.weights import load_weights
from test_backends_shared import available

ALL = ["torch", "keras", "flax"]
OUTCOME_LABELS = {"diverged", "stuck", "eval-mode", "slow", "trained"}  # first words
needs_all = pytest.mark.skipif(not all(map(available, ALL)), reason="needs every backend")

CNN = """\
normspec: 1
name: cmd_cnn
input: {shape: [8, 8, 1], normalize: standardize}
defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
layers:
  - conv2d: {filters: 4, padding: same, strides: 2}
  - conv2d: {filters: 4, padding: same, activation: {function: gelu, approximate: tanh}}
  - flatten
  - dense: {units: 12}
  - dense: {units: 10, activation: softmax, norm: none}
train: {optimizer: {kind: sgd, learning_rate: 0.05, momentum: 0.9}, batch_size: 16, epochs: 2}
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "cmd_cnn.yaml"
    path.write_text(CNN)
    return path


@pytest.fixture
def digits_npz(tmp_path: Path) -> Path:
    """96 of scikit-learn's digits and 40 test ones as a .npz file (the format users bring
    their data in)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp_path / "digits96.npz"
    images = d.images[..., None].astype(np.float32)
    np.savez(path, x_train=images[:96], y_train=d.target[:96], x_test=images[96:136],
             y_test=d.target[96:136])  # fmt: skip
    return path


# --- compare (parity) --------------------------------------------------------------------------


@needs_all
def test_compare_reports_every_pair_and_passes(spec_file: Path) -> None:
    code, out, _ = run("compare", str(spec_file), "--dtype", "float64", "--batch", "3")
    assert code == 0, out
    for pair in ("torch vs numpy", "keras vs numpy", "flax vs numpy", "torch vs keras",
                 "torch vs flax", "keras vs flax"):  # fmt: skip
        assert out.count(pair) == 2  # eval and train
    assert out.rstrip().endswith("parity ok")


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_compare_names_the_first_diverging_op_and_exits_1(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that silently used the framework's GELU default (exact instead of the spec's
    tanh form) is caught, and the report points at that activation, not at the output."""
    from normspec.backends.codegen import call
    from normspec.backends.torch import emitter

    original = emitter._activation_module

    def framework_default_gelu(op):  # type: ignore[no-untyped-def]
        return call("nn.GELU") if op.function == "gelu" else original(op)

    monkeypatch.setattr(emitter, "_activation_module", framework_default_gelu)
    code, out, err = run("compare", str(spec_file), "--backends", "torch", "--mode", "eval")
    assert code == 1
    assert "torch vs numpy  eval" in out
    assert "DIVERGES at conv2d_2_gelu" in out
    assert "parity FAILED" in err


def test_compare_rejects_unknown_backend(spec_file: Path) -> None:
    code, _, err = run("compare", str(spec_file), "--backends", "torch,caffe")
    assert code == 2 and "choose from torch, keras, flax" in err


# --- weights -----------------------------------------------------------------------------------


@needs_all
def test_weights_convert_between_every_format(tmp_path: Path) -> None:
    """init -> torch .pt -> keras .weights.h5 -> flax .msgpack -> canonical is the identity
    (with dropout, whose random state is not a weight)."""
    spec_file = tmp_path / "with_dropout.yaml"
    spec_file.write_text(CNN.replace("dense: {units: 12}", "dense: {units: 12, dropout: 0.2}"))
    start, pt = tmp_path / "start.safetensors", tmp_path / "w.pt"
    h5, msgpack, end = (
        tmp_path / "w.weights.h5",
        tmp_path / "w.msgpack",
        tmp_path / "end.safetensors",
    )
    assert run("weights", "init", str(spec_file), "--seed", "4", "-o", str(start))[0] == 0
    for src, dst in ((start, pt), (pt, h5), (h5, msgpack), (msgpack, end)):
        code, _out, err = run("weights", "convert", str(spec_file), str(src), "-o", str(dst))
        assert code == 0, err
        assert dst.exists()
    spec = normspec.load(spec_file)
    first, last = load_weights(start, spec), load_weights(end, spec)
    assert first.keys() == last.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], last[key], err_msg=key)
    assert not any(p.name.endswith((".partial", ".tmp")) for p in tmp_path.iterdir())


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_weights_for_another_spec_are_refused(spec_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(CNN.replace("units: 12", "units: 13"))
    made = tmp_path / "other.safetensors"
    assert run("weights", "init", str(other), "-o", str(made))[0] == 0
    target = tmp_path / "x.pt"
    code, _, err = run("weights", "convert", str(spec_file), str(made), "-o", str(target))
    assert code == 2
    assert "was made for spec cmd_cnn" in err and "not for 'cmd_cnn'" in err
    assert not target.exists()
    native = tmp_path / "other.pt"
    assert run("weights", "convert", str(other), str(made), "-o", str(native))[0] == 0
    code, _, err = run("weights", "convert", str(spec_file), str(native), "-o", str(target))
    assert code == 2 and "was made for spec cmd_cnn" in err  # native files carry the hash too
    assert not target.exists()


# --- train -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ALL)
def test_train_writes_metrics_and_canonical_weights(
    backend: str, spec_file: Path, digits_npz: Path, tmp_path: Path
) -> None:
    if not available(backend):
        pytest.skip(f"{backend} missing")
    out = tmp_path / "run"
    code, stdout, err = run("train", str(spec_file), "--backend", backend, "--data",
                            str(digits_npz), "--epochs", "2", "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert "epoch 2/2" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == backend and len(metrics["epochs"]) == 2
    assert metrics["settings"]["epochs"] == 2 and metrics["settings"]["batch_size"] == 16
    assert metrics["settings"]["optimizer"]["kind"] == "sgd"
    assert metrics["data"] == {"name": str(digits_npz), "train": 77, "validation": 19,
                               "validation_split": 0.2, "split_seed": 0, "test": 40}  # fmt: skip
    assert set(metrics["test"]) == {"test_loss", "test_accuracy"}
    assert 0.0 <= metrics["test"]["test_accuracy"] <= 1.0
    assert f"{backend} test (40 samples): loss" in stdout
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["epoch"]) for r in rows] == [1.0, 2.0]
    assert float(rows[1]["loss"]) == pytest.approx(metrics["epochs"][1]["loss"])
    spec = normspec.load(spec_file)
    trained = load_weights(out / "weights.safetensors", spec)
    fitted = trained["input_norm.mean"]  # standardization adapted on the training split
    assert 0 < float(fitted[0]) < 16
    start = normspec.init_weights(spec, seed=spec.train.seed)
    assert not np.allclose(trained["dense_1.kernel"], start["dense_1.kernel"])
    report = (out / "report.md").read_text()
    assert epochs_after(report, "## Every epoch") == [1, 2]
    header, *rows = table_after(report, "## Every epoch")
    assert header[-1] == "val accuracy, batch statistics"
    assert rows[1][1] == f"{metrics['epochs'][1]['loss']:.4f}"
    assert "Test split (40 samples), final model: loss " in report
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 1


def test_train_with_missing_data_is_a_clear_error(spec_file: Path, tmp_path: Path) -> None:
    code, _, err = run("train", str(spec_file), "--data", str(tmp_path / "none.npz"))
    assert code == 2 and "cannot read as .npz" in err


# --- compare --train ---------------------------------------------------------------------------


@pytest.mark.slow
@needs_all
def test_compare_train_agrees_across_backends(
    spec_file: Path, digits_npz: Path, tmp_path: Path
) -> None:
    """A small BN network with SGD: three epochs from identical weights on identical batches
    end with nearly the same losses in every framework, and a plot and a report are written."""
    out = tmp_path / "cmp"
    code, stdout, err = run("compare", str(spec_file), "--train", "--data", str(digits_npz),
                            "--epochs", "3", "--optimizer", "sgd", "--lr", "0.05",
                            "--out", str(out))  # fmt: skip
    assert code == 0, err
    histories = {b: json.loads((out / b / "metrics.json").read_text())["epochs"] for b in ALL}
    for b in ALL:
        assert len(histories[b]) == 3
    for epoch in range(3):
        for key in ("loss", "val_loss", "val_accuracy"):
            values = [histories[b][epoch][key] for b in ALL]
            assert max(values) - min(values) < 1e-3, (epoch, key, values)
    assert histories["torch"][-1]["loss"] < histories["torch"][0]["loss"]
    gap = float(stdout.split("train-loss gap: ")[1].split()[0])
    assert gap < 1e-3
    outcomes = [line for line in stdout.splitlines() if " outcome: " in line]
    assert [line.split()[0] for line in outcomes] == ALL
    assert all(line.split("outcome: ")[1].split()[0] in OUTCOME_LABELS for line in outcomes)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "![curves](curves.png)" in report and all(f"| {b} |" in report for b in ALL)
    for b in ALL:
        assert epochs_after(report, f"### {b}\n\nOutcome: ") == [1, 2, 3]


def test_compare_train_needs_data(spec_file: Path) -> None:
    code, _, err = run("compare", str(spec_file), "--train")
    assert code == 2 and "--train needs --data" in err


# --- ablate ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_ablate_runs_every_variant_and_seed(spec_file: Path, digits_npz: Path, tmp_path: Path):
    out = tmp_path / "abl"
    code, stdout, err = run("ablate", str(spec_file), "--data", str(digits_npz), "--epochs", "1",
                            "--seeds", "2", "--vary", "norm.position=before_activation,none",
                            "--vary", "norm.kind=batch,layer", "--out", str(out))  # fmt: skip
    assert code == 0, err
    labels = [f"norm.position={p}, norm.kind={k}" for p in ("before_activation", "none")
              for k in ("batch", "layer")]  # fmt: skip
    for label in labels:
        assert f"| {label} |" in stdout
    # Without a norm the kind does not matter: that variant is trained once, and said so.
    once = (
        "norm.position=none, norm.kind=layer is the same model and training as "
        "norm.position=none, norm.kind=batch: trained once"
    )
    assert once in err
    assert err.count("epoch 1/1") == 3 * 2
    assert "[6/6]" in err and "[7/" not in err
    assert "(same model as norm.position=none, norm.kind=batch: trained once)" in stdout
    report = (out / "report.md").read_text()
    assert all(label in report for label in labels)
    assert (out / "curves.png").stat().st_size > 10_000
    for label in labels[:3]:
        assert epochs_after(report, f"### {label}\n\nMean ± std over 2 seeds:") == [1]
    assert "### norm.position=none, norm.kind=layer\n\nThe same model and training" in report
    assert "## Diagnostics" not in report


def test_ablate_reports_a_variant_that_fails_to_train(tmp_path: Path) -> None:
    """A run whose loss is NaN is reported as failed, not hidden or averaged away."""
    from normspec.run.ablate import VariantResult, table
    from normspec.run.train import History

    spec = normspec.load(CNN)
    good = History("torch", [{"epoch": 1.0, "loss": 0.3, "val_loss": 0.4, "val_accuracy": 0.9}])
    nan = History("torch", [{"epoch": 1.0, "loss": float("nan"), "val_loss": float("nan"),
                             "val_accuracy": 0.1}])  # fmt: skip
    stuck = History("torch", [{"epoch": 1.0, "loss": 2.3, "val_loss": 2.3, "val_accuracy": 0.11}])
    text = table([VariantResult("ok", spec, [good], 0.1),
                  VariantResult("broken", spec, [good, nan, stuck], 0.1)])  # fmt: skip
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()[2:]}
    assert rows["ok"].rstrip().endswith("| trained |")
    assert "1/3 diverged (training loss not finite from epoch 1)" in rows["broken"]
    assert "1/3 stuck (validation accuracy 0.110, chance 0.100)" in rows["broken"]
    assert "1/3 trained" in rows["broken"]


def test_ablate_bad_variation_is_a_clear_error(spec_file: Path) -> None:
    code, _, err = run("ablate", str(spec_file), "--data", "digits", "--vary", "norm.position")
    assert code == 2 and "--vary takes KEY=V1,V2" in err


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_ablate_varies_the_train_section_too(spec_file: Path, digits_npz: Path, tmp_path: Path):
    """Each variant trains with its own ``train`` section: a learning rate that differs gives
    different runs, and the report lists each variant's settings."""
    out = tmp_path / "lr"
    code, stdout, err = run("ablate", str(spec_file), "--data", str(digits_npz), "--epochs", "1",
                            "--seeds", "1", "--vary", "train.optimizer.learning_rate=0.001,0.3",
                            "--out", str(out))  # fmt: skip
    assert code == 0, err
    rows = [line for line in stdout.splitlines() if line.startswith("| train.optimizer")]
    assert len(rows) == 2 and rows[0].split("|")[2] != rows[1].split("|")[2], rows
    report = (out / "report.md").read_text()
    assert (
        "- train.optimizer.learning_rate=0.001: 1 epoch, batch 16, seed 0, SGD lr 0.001" in report
    )
    assert "- train.optimizer.learning_rate=0.3: 1 epoch, batch 16, seed 0, SGD lr 0.3" in report


def test_compare_refuses_training_options_without_train(spec_file: Path) -> None:
    code, _, err = run("compare", str(spec_file), "--data", "digits", "--epochs", "2")
    assert code == 2 and "--data, --epochs only apply with --train" in err


NESTED = """\
normspec: 1
name: nested
input: {shape: [6, 6, 3]}
layers:
  - conv2d: {filters: 4, padding: same}
  - residual:
      body:
        - conv2d: {filters: 4, padding: same, norm: batch, activation: relu}
        - residual: {body: [{conv2d: {filters: 4, padding: same, activation: {function: gelu, approximate: tanh}}}]}
  - flatten
  - dense: 3
"""


@pytest.mark.skipif(not available("torch"), reason="needs torch")
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_divergence_inside_residual_blocks_is_traced_to_the_op(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Every intermediate output counts: inside nested residuals the report still names the
    op (here the GELU two residuals deep), not only the block around it."""
    from normspec.backends.codegen import call
    from normspec.backends.torch import emitter
    from normspec.parity import compare

    original = emitter._activation_module
    monkeypatch.setattr(emitter, "_activation_module",
                        lambda op: call("nn.GELU") if op.function == "gelu" else original(op))  # fmt: skip
    report = compare(normspec.load(NESTED), ["torch"], modes=[mode], batch=2)
    assert not report.ok
    assert report.comparisons[0].first_divergence == (
        "residual_1 > body > residual_1_residual_1 > body > residual_1_residual_1_conv2d_1_gelu"
    )


@pytest.mark.slow
@needs_all
def test_float64_training_trajectories_agree(spec_file: Path, digits_npz: Path, tmp_path: Path):
    """In float64 the rounding that makes float32 curves drift is gone: three epochs of SGD
    with momentum give the same losses in every framework to 1e-10."""
    out = tmp_path / "cmp64"
    code, _stdout, err = run("compare", str(spec_file), "--train", "--data", str(digits_npz),
                            "--epochs", "3", "--dtype", "float64", "--out", str(out))  # fmt: skip
    assert code == 0, err
    histories = {b: json.loads((out / b / "metrics.json").read_text())["epochs"] for b in ALL}
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        for epoch in range(3):
            values = [histories[b][epoch][key] for b in ALL]
            assert max(values) - min(values) < 1e-10, (key, epoch, values)
    report = (out / "report.md").read_text()
    assert "On the first training batch, from the same starting weights" in report
    assert "## Environment" in report
