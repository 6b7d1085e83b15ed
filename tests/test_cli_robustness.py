"""Bad input on the command line: a clear ``error: ...`` message, exit status 2, no traceback,
and nothing half-written on disk; files that are written get the normal permission bits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from normspec.cli import main
from test_backends_shared import available

MLP = ROOT / "specs" / "mlp.yaml"  # input (8, 8, 1), 10 softmax classes, cross-entropy
needs_torch = pytest.mark.skipif(not available("torch"), reason="needs torch")


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, output


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- output paths that cannot be written -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["canonical", MLP], "c.yaml"),
        (["build", MLP, "--backend", "torch"], "x.py"),
        (["schema"], "s.json"),
        (["weights", "init", MLP], "x.safetensors"),
    ],
    ids=["canonical", "build", "schema", "weights-init"],
)
def test_output_under_a_file_is_a_clear_error(tmp_path: Path, args: list, name: str) -> None:
    blocker = tmp_path / "mlp.txt"
    blocker.write_text("a file, not a folder\n")
    target = blocker / name
    code, out = run(*args, "-o", target)
    assert code == 2
    assert f"error: cannot write {target}: {blocker} is not a folder" in out
    assert files_in(tmp_path) == ["mlp.txt"]
    assert blocker.read_text() == "a file, not a folder\n"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_output_in_an_unwritable_place_is_a_clear_error() -> None:
    code, out = run("canonical", MLP, "-o", "/proc/nope.yaml")
    assert code == 2
    assert "error: cannot write /proc/nope.yaml: " in out


@needs_torch
def test_train_checks_its_output_folder_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "mlp.txt"
    blocker.write_text("")
    data = write_npz(tmp_path / "d.npz")
    code, out = run("train", MLP, "--data", data, "--epochs", "1", "--out", blocker / "sub")
    assert code == 2
    assert f"error: cannot write {blocker / 'sub'}: {blocker} is not a folder" in out
    assert "epoch 1/1" not in out  # refused before training, not after
    assert files_in(tmp_path) == ["d.npz", "mlp.txt"]


@needs_torch
def test_train_that_fails_leaves_no_output_folder(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "d.npz", y=np.full(20, 50))
    code, _ = run("train", MLP, "--data", data, "--epochs", "1", "--out", tmp_path / "a" / "b")
    assert code == 2
    assert files_in(tmp_path) == ["d.npz"]


# --- permission bits of written files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["canonical", MLP], "c.yaml"),
        (["build", MLP, "--backend", "torch"], "x.py"),
        (["schema"], "s.json"),
        (["weights", "init", MLP], "w.safetensors"),
    ],
    ids=["canonical", "build", "schema", "weights-init"],
)
def test_written_files_follow_the_umask(tmp_path: Path, umask_022, args: list, name: str) -> None:
    target = tmp_path / name
    code, out = run(*args, "-o", target)
    assert code == 0, out
    assert mode(target) == 0o644
    assert files_in(tmp_path) == [name]


def test_replacing_a_file_keeps_its_mode(tmp_path: Path, umask_022) -> None:
    weights = tmp_path / "w.safetensors"
    assert run("weights", "init", MLP, "-o", weights)[0] == 0
    weights.chmod(0o640)
    code, out = run("weights", "convert", MLP, weights, "-o", weights)
    assert code == 0, out
    assert mode(weights) == 0o640
    text = tmp_path / "c.yaml"
    text.write_text("old\n")
    text.chmod(0o604)
    assert run("canonical", MLP, "-o", text)[0] == 0
    assert mode(text) == 0o604 and text.read_text() != "old\n"
    assert files_in(tmp_path) == ["c.yaml", "w.safetensors"]


@needs_torch
def test_train_writes_files_with_the_normal_mode(tmp_path: Path, umask_022) -> None:
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "run"
    code, text = run("train", MLP, "--data", data, "--epochs", "1", "--out", out)
    assert code == 0, text
    assert {p.name: mode(p) for p in out.iterdir()} == {
        "metrics.json": 0o644,
        "metrics.csv": 0o644,
        "weights.safetensors": 0o644,
        "curves.png": 0o644,
        "report.md": 0o644,
        "report.html": 0o644,
    }


# --- option ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["compare", MLP, "--seed", "-5"],
        ["weights", "init", MLP, "--seed", "-1", "-o", "w.safetensors"],
        ["train", MLP, "--data", "digits", "--seed", "-1"],
        ["ablate", MLP, "--data", "digits", "--vary", "norm.kind=batch", "--seed", "-1"],
        ["compare", MLP, "--train", "--data", "digits", "--seed", "-1"],
    ],
    ids=["compare", "weights-init", "train", "ablate", "compare-train"],
)
def test_negative_seed_is_refused(tmp_path: Path, monkeypatch, args: list) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run(*args)
    assert code == 2
    assert "Invalid value for '--seed'" in out
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("atol", ["-1", "0", "nan", "inf"])
def test_compare_tolerance_must_be_finite_and_positive(atol: str) -> None:
    code, out = run("compare", MLP, "--backends", "torch", "--tolerance", atol)
    assert code == 2
    assert "Invalid value for '--tolerance'" in out and "finite number > 0" in out


def test_learning_rate_must_be_finite(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run("train", MLP, "--data", "digits", "--lr", "nan")
    assert code == 2 and "Invalid value for '--lr'" in out
    assert files_in(tmp_path) == []


# --- data that does not fit the spec -----------------------------------------------------------


def write_npz(path: Path, x: np.ndarray | None = None, y: np.ndarray | None = None) -> Path:
    """20 samples shaped for mlp.yaml unless told otherwise."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 16, (20, 8, 8, 1)).astype(np.float32) if x is None else x
    y = np.arange(20) % 10 if y is None else y
    np.savez(path, x_train=x, y_train=y)
    return path


BAD_DATA = {
    "wrong-shape": (
        {"x": np.ones((10, 5), np.float32), "y": np.arange(10) % 10},
        "its samples (x_train) have shape (5,), the spec's input shape is (8, 8, 1)",
    ),
    "label-out-of-range": (
        {"y": np.where(np.arange(20) == 3, 50, np.arange(20) % 10)},
        "cross-entropy labels must be integers in [0, 10)",
    ),
    "negative-label": ({"y": -(np.arange(20) % 3)}, "must be integers in [0, 10)"),
    "labels-too-short": ({"y": np.arange(15) % 10}, "x_train has 20 samples but y_train has 15"),
    "empty": (
        {"x": np.zeros((0, 8, 8, 1), np.float32), "y": np.zeros(0, np.int64)},
        "0 training sample(s)",
    ),
    "fractional-labels": ({"y": np.full(20, 0.5)}, "y_train has non-integer values"),
    "one-hot-labels": ({"y": np.eye(10)[np.arange(20) % 10]}, "class ids, one per sample"),
    "text-labels": ({"y": np.array(["cat"] * 20)}, "array y_train is not numeric"),
    "nan-inputs": ({"x": np.full((20, 8, 8, 1), np.nan, np.float32)}, "NaN or infinite"),
    "no-validation-sample": (
        {"x": np.ones((2, 8, 8, 1), np.float32), "y": np.array([0, 1])},
        "validation split of its 2 samples is empty",
    ),
}


@needs_torch
@pytest.mark.parametrize("case", list(BAD_DATA))
def test_train_refuses_data_that_does_not_fit(tmp_path: Path, case: str) -> None:
    arrays, message = BAD_DATA[case]
    data = write_npz(tmp_path / "d.npz", **arrays)
    code, out = run("train", MLP, "--epochs", "1", "--data", data, "--out", tmp_path / "run")
    assert code == 2
    assert "error: " in out and message in out, out
    assert files_in(tmp_path) == ["d.npz"]


@needs_torch
def test_compare_train_and_ablate_refuse_data_that_does_not_fit(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "d.npz", x=np.ones((10, 5), np.float32), y=np.arange(10) % 10)
    expected = "the spec's input shape is (8, 8, 1)"
    code, out = run("compare", MLP, "--train", "--backends", "torch", "--data", data,
                    "--epochs", "1", "--out", tmp_path / "cmp")  # fmt: skip
    assert code == 2 and expected in out
    code, out = run("ablate", MLP, "--data", data, "--epochs", "1", "--seeds", "1",
                    "--vary", "norm.kind=batch,layer", "--out", tmp_path / "abl")  # fmt: skip
    assert code == 2 and expected in out
    assert files_in(tmp_path) == ["d.npz"]


def test_binary_and_regression_targets_are_checked() -> None:
    import normspec
    from normspec.run.data import DataError, Dataset, check_dataset

    def spec(head: str, loss: str):  # type: ignore[no-untyped-def]
        return normspec.load(
            f"normspec: 1\ninput: {{shape: [2]}}\nlayers: [{{dense: {head}}}]\n"
            f"train: {{loss: {loss}}}\n"
        )

    x = np.zeros((8, 2), np.float32)
    sigmoid = spec("{units: 1, activation: sigmoid}", "binary_cross_entropy")
    check_dataset(sigmoid, Dataset("ok", x[:6], np.array([0, 1] * 3), x[6:], np.array([0, 1])))
    with pytest.raises(DataError, match=r"must be in \[0, 1\]; y_train has values 0 .. 2"):
        check_dataset(sigmoid, Dataset("b", x[:6], np.array([0, 2] * 3), x[6:], np.array([0, 1])))
    regression = spec("{units: 3}", "mean_squared_error")
    check_dataset(regression, Dataset("ok", x[:6], np.zeros((6, 3)), x[6:], np.zeros((2, 3))))
    with pytest.raises(DataError, match=r"output's shape \(3,\) per sample; y_train has .* \(\)"):
        check_dataset(regression, Dataset("r", x[:6], np.zeros(6), x[6:], np.zeros(2)))


@pytest.mark.parametrize("builtin", ["digits", "threshold", "synthetic_cifar"])
def test_builtin_data_sets_fit_their_specs(builtin: str) -> None:
    import normspec
    from normspec.run.data import check_dataset, load_dataset

    spec = {"digits": "mlp", "threshold": "threshold_plain", "synthetic_cifar": "cifar_cnn"}
    check_dataset(normspec.load(ROOT / "specs" / f"{spec[builtin]}.yaml"), load_dataset(builtin))


def test_moons_fits_a_two_feature_classifier() -> None:
    import normspec
    from normspec.run.data import check_dataset, load_dataset

    for head in ("{units: 1, activation: sigmoid}", "{units: 2, activation: softmax}"):
        spec = normspec.load(f"normspec: 1\ninput: {{shape: [2]}}\nlayers: [{{dense: {head}}}]\n")
        check_dataset(spec, load_dataset("moons"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text\n", "not a valid .npz file"),
        (b"\x93NUMPY\x01\x00", "not a valid .npz file"),  # a .npy, not an .npz
        (b"PK\x03\x04 truncated", "not a valid .npz file"),
    ],
    ids=["text", "npy", "broken-zip"],
)
def test_a_file_that_is_not_an_npz_is_named_so(tmp_path: Path, content: bytes, message: str):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    code, out = run("train", MLP, "--data", bad, "--out", tmp_path / "run")
    assert code == 2
    assert f"error: {bad}: {message}" in out
    assert "pickled" not in out
    assert files_in(tmp_path) == ["bad.npz"]
