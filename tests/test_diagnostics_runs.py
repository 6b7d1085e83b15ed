"""Diagnostics in the frameworks: the same statistics from PyTorch, Keras, Flax and the numpy
reference on the same weights and batch (float64); a capture leaves the model as it was, and
a run with diagnostics trains exactly as one without; ``normspec train --diagnostics``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from test_commands import run
from test_reports import epochs_after, table_after

import normspec
from normspec import reference
from normspec.backends import get_backend
from normspec.parity import parity_weights, with_dtype
from normspec.run.data import Dataset
from normspec.run.diagnostics import Diagnostics, Row
from normspec.run.diagnostics_capture import capture
from normspec.run.train import RunSettings, train
from test_backends_shared import BACKENDS, available

SPEC = """\
normspec: 1
name: diag_cnn
input: {shape: [6, 6, 2], normalize: standardize}
defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
layers:
  - conv2d: {filters: 4, padding: same}
  - conv2d: {filters: 3, activation: tanh, norm: {kind: batch, position: after_activation}}
  - flatten
  - dense: {units: 8, activation: sigmoid, dropout: 0.3}
  - dense: {units: 5, activation: softmax, norm: none}
train: {optimizer: {kind: sgd, learning_rate: 0.1, momentum: 0.9}, batch_size: 8, epochs: 2}
"""
TOLERANCE = 1e-9


def needs(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")


@pytest.fixture(scope="module")
def spec64():  # type: ignore[no-untyped-def]
    return with_dtype(normspec.load(SPEC), "float64")


def batch(spec, n: int = 16, seed: int = 4) -> np.ndarray:  # type: ignore[no-untyped-def]
    return reference.init_batch(spec, n, seed=seed)


def as_dict(rows: list[Row]) -> dict[tuple[int, str, str], float]:
    return {(step, op, stat): value for step, op, stat, value in rows}


def assert_rows_agree(ours: list[Row], expected: list[Row]) -> None:
    a, b = as_dict(ours), as_dict(expected)
    assert a.keys() == b.keys()
    for key, value in b.items():
        assert abs(a[key] - value) <= TOLERANCE * max(1.0, abs(value)), (key, a[key], value)


def reference_rows(spec, weights, x: np.ndarray) -> list[Row]:  # type: ignore[no-untyped-def]
    diag = Diagnostics(spec, x, every=1)
    outputs, _ = reference.forward(spec, weights, x, train=True)
    diag.record(0, outputs, weights)
    return diag.rows


@pytest.mark.parametrize("backend", BACKENDS)
def test_statistics_agree_with_the_numpy_reference_in_float64(backend: str, spec64) -> None:  # type: ignore[no-untyped-def]
    needs(backend)
    weights = parity_weights(spec64, seed=3)
    x = batch(spec64)
    impl = get_backend(backend)
    model = impl.build(spec64)
    impl.set_weights(model, spec64, weights)
    diag = Diagnostics(spec64, x, every=1)
    capture(impl, model, spec64, diag, 0)
    expected = reference_rows(spec64, weights, x)
    assert {stat for _, _, stat, _ in expected} >= {"saturated_fraction", "variance_shift"}
    assert_rows_agree(diag.rows, expected)
    after = impl.get_weights(model, spec64)  # the train-mode pass changed no running statistic
    assert all(np.array_equal(after[k], weights[k]) for k in weights)


def test_statistics_agree_across_the_three_frameworks_in_float64(spec64) -> None:  # type: ignore[no-untyped-def]
    for name in BACKENDS:
        needs(name)
    weights = parity_weights(spec64, seed=5)
    x = batch(spec64, seed=6)
    rows = {}
    for name in BACKENDS:
        impl = get_backend(name)
        model = impl.build(spec64)
        impl.set_weights(model, spec64, weights)
        diag = Diagnostics(spec64, x, every=1)
        capture(impl, model, spec64, diag, 0)
        moved = {k: v * 1.25 for k, v in weights.items() if k.endswith(".kernel")}
        impl.set_weights(model, spec64, {**weights, **moved})
        capture(impl, model, spec64, diag, 1)
        rows[name] = diag.rows
    assert any(stat == "update_ratio" for _, _, stat, _ in rows["torch"])
    assert_rows_agree(rows["keras"], rows["torch"])
    assert_rows_agree(rows["flax"], rows["torch"])


def tiny_data() -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(40, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 5, size=40)
    return Dataset("tiny", x[:32], y[:32], x[32:], y[32:])


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagnostics_do_not_change_the_training(backend: str) -> None:
    """Same final weights and metrics, to the bit, with diagnostics every 3 steps as without
    (the spec has batch norms, whose running statistics a capture must restore, and dropout,
    whose random stream it must not touch)."""
    needs(backend)
    spec = normspec.load(SPEC)
    data = tiny_data()
    settings = RunSettings.from_spec(spec)
    weights = normspec.init_weights(spec, seed=0)
    weights["input_norm.mean"] = np.full(2, 2.0, np.float32)
    weights["input_norm.std"] = np.full(2, 3.0, np.float32)
    plain, w_plain = train(spec, backend, data, weights, settings)
    diag = Diagnostics(spec, data.x_train[:16], every=3)
    watched, w_watched = train(spec, backend, data, weights, settings, diagnostics=diag)
    assert diag.steps == [0, 3, 6, 8]  # 4 steps per epoch, 2 epochs: the last step too
    assert watched.epochs == plain.epochs
    for key, value in w_plain.items():
        assert np.array_equal(w_watched[key], value), key


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["step", "op", "stat", "value"]
        return list(reader)


@pytest.mark.parametrize(("interval", "steps"), [("3", {0, 3, 6, 8}), ("epoch", {0, 4, 8})])
def test_train_with_diagnostics_writes_the_csv_and_plots(
    tmp_path: Path, interval: str, steps: set[int]
) -> None:
    needs("torch")
    spec_file, data = tmp_path / "diag_cnn.yaml", tmp_path / "tiny.npz"
    spec_file.write_text(SPEC.replace("standardize", "none"))
    tiny = tiny_data()
    np.savez(data, x_train=tiny.x_train, y_train=tiny.y_train)
    out = tmp_path / "run"
    code, _, err = run("train", str(spec_file), "--data", str(data), "--epochs", "2",
                       "--diagnostics", interval, "--out", str(out))  # fmt: skip
    assert code == 0, err
    rows = read_rows(out / "diagnostics.csv")
    names = [op.name for op in normspec.load(spec_file).ops]
    assert {r["op"] for r in rows} == set(names)
    assert {int(r["step"]) for r in rows} == steps
    assert {"dense_1_sigmoid", "dense_2_softmax", "conv2d_2_tanh"} == {
        r["op"] for r in rows if r["stat"] == "saturated_fraction"
    }
    assert all(np.isfinite(float(r["value"])) for r in rows)
    assert f"diagnostics at {len(steps)} steps" in err
    for png in ("diagnostics_dead_fraction.png", "diagnostics_saturated_fraction.png",
                "diagnostics_std.png", "diagnostics_histograms.png"):  # fmt: skip
        assert (out / png).stat().st_size > 1000
    assert_train_report(out, names)
    # the same folder again: normspec's own diagnostics files are replaced, not refused
    code, _, err = run("train", str(spec_file), "--data", str(data), "--epochs", "1",
                       "--out", str(out))  # fmt: skip
    assert code == 0 and "replaced the earlier results" in err
    assert not (out / "diagnostics.csv").exists()
    assert epochs_after((out / "report.md").read_text(), "## Every epoch") == [1]
    assert "## Diagnostics" not in (out / "report.md").read_text()


def assert_train_report(out: Path, ops: list[str]) -> None:
    """The report shows every epoch (validation in both modes: the spec has batch norms), the
    diagnostics' findings and a row per op; the HTML page embeds the curves and every plot."""
    report = (out / "report.md").read_text()
    assert epochs_after(report, "## Every epoch") == [1, 2]
    assert len(table_after(report, "## Every epoch")[0]) == 7
    section = report[report.index("## Diagnostics") :]
    assert "Diagnostics at steps 0 to 8, every " in section and "Findings: " in section
    assert [row[0] for row in table_after(section, "Per op")[1:]] == ops
    plots = [line for line in section.splitlines() if line.startswith("![diagnostics_")]
    assert len(plots) == 7
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1 + len(plots)


def test_a_bad_interval_is_refused(tmp_path: Path) -> None:
    spec_file = tmp_path / "diag_cnn.yaml"
    spec_file.write_text(SPEC)
    for bad in ("0", "-2", "often"):
        code, _, err = run("train", str(spec_file), "--data", "digits", "--diagnostics", bad)
        assert code == 2 and "neither a number of steps >= 1 nor 'epoch'" in err


def tiny_npz(tmp_path: Path) -> Path:
    path, tiny = tmp_path / "tiny.npz", tiny_data()
    np.savez(path, x_train=tiny.x_train, y_train=tiny.y_train)
    return path


@pytest.mark.slow
def test_compare_train_records_diagnostics_per_backend_that_agree_in_float64(
    tmp_path: Path,
) -> None:
    """Same weights, batches and probe (no dropout): every statistic at every step agrees
    between the frameworks, and the report links each backend's plots."""
    names = ["torch", "flax"]
    for name in names:
        needs(name)
    spec_file, out = tmp_path / "diag_cnn.yaml", tmp_path / "cmp"
    spec_file.write_text(SPEC.replace(", dropout: 0.3", ""))
    code, _, err = run("compare", str(spec_file), "--train", "--backends", ",".join(names),
                       "--data", str(tiny_npz(tmp_path)), "--dtype", "float64",
                       "--diagnostics", "epoch", "--out", str(out))  # fmt: skip
    assert code == 0, err
    rows = {name: read_rows(out / name / "diagnostics.csv") for name in names}
    torch_rows = [(int(r["step"]), r["op"], r["stat"], float(r["value"])) for r in rows["torch"]]
    flax_rows = [(int(r["step"]), r["op"], r["stat"], float(r["value"])) for r in rows["flax"]]
    assert {step for step, *_ in torch_rows} == {0, 4, 8}
    assert_rows_agree(flax_rows, torch_rows)
    report = (out / "report.md").read_text()
    section = report[report.index("## Diagnostics") :]
    for name in names:
        assert epochs_after(report, f"### {name}\n\nOutcome: ") == [1, 2]
        assert f"![diagnostics_dead_fraction]({name}/diagnostics_dead_fraction.png)" in report
        assert f"[diagnostics.csv]({name}/diagnostics.csv). Findings: " in section
        assert table_after(section, f"### {name}")[0][:2] == ["op", "std"]
        assert f"{name} diagnostics at 3 steps" in err
        assert (out / name / "diagnostics_histograms.png").exists()
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_ablate_records_diagnostics_for_every_run(tmp_path: Path) -> None:
    needs("torch")
    spec_file, out = tmp_path / "diag_cnn.yaml", tmp_path / "abl"
    spec_file.write_text(SPEC)
    code, _, err = run("ablate", str(spec_file), "--data", str(tiny_npz(tmp_path)),
                            "--epochs", "1", "--seeds", "1", "--diagnostics", "2",
                            "--vary", "norm.position=before_activation,none",
                            "--out", str(out))  # fmt: skip
    assert code == 0, err
    folders = sorted(p.name for p in (out / "diagnostics").iterdir())
    assert folders == ["v1_seed0", "v2_seed0"]
    with_bn = {r["op"] for r in read_rows(out / "diagnostics" / "v1_seed0" / "diagnostics.csv")}
    without = {r["op"] for r in read_rows(out / "diagnostics" / "v2_seed0" / "diagnostics.csv")}
    assert "conv2d_1_bn" in with_bn and "conv2d_1_bn" not in without
    report = (out / "report.md").read_text()
    for label in ("norm.position=before_activation", "norm.position=none"):
        assert epochs_after(report, f"### {label}\n\n1 seed, no spread:") == [1]
    section = report[report.index("## Diagnostics") :]
    none = section[section.index("### norm.position=none") :]
    assert "#### seed 0" in none
    assert "[diagnostics.csv](diagnostics/v2_seed0/diagnostics.csv)" in none
    assert "Findings: " in none and "| conv2d_1_relu |" in none and "conv2d_1_bn" not in none
    assert "![diagnostics_dead_fraction](diagnostics/v1_seed0/diagnostics_dead_fraction.png)" in (
        section
    )
    images = len(re.findall(r"^!\[diagnostics_", section, re.M))
    page = (out / "report.html").read_text()
    assert images >= 10 and page.count('src="data:image/png;base64,') == 1 + images
