"""One rule for each value wherever it comes from (spec, command line, Python API); a run that
diverged says so and exits non-zero; initializers and data stay within the model's dtype; the
Python API says what it expected; ``validation_split: 0`` trains on every sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_cli_robustness import MLP, run, write_npz

import normspec
from conftest import ROOT
from normspec.errors import SpecError
from normspec.run.data import DataError, Dataset, check_dataset
from normspec.run.train import RunSettings
from test_backends_shared import available

needs_torch = pytest.mark.skipif(not available("torch"), reason="needs torch")


def spec_with(train: str = "", layer: str = "dense: 2", dtype: str = "float32") -> str:
    return (
        f"normspec: 1\nname: net\ninput: {{shape: [3], dtype: {dtype}}}\nlayers:\n"
        f"  - {layer}\n  - dense: {{units: 2, activation: softmax}}\n"
        + (f"train: {train}\n" if train else "")
    )


# --- one rule per value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("train", "option", "value"),
    [
        ("{batch_size: 1}", "--batch-size", "1"),
        ("{optimizer: {kind: adam, learning_rate: 1.0e308}}", "--lr", "1e308"),
        ("{optimizer: {kind: sgd, learning_rate: 2000.0}}", "--lr", "2000"),
        ("{epochs: 0}", "--epochs", "0"),
    ],
    ids=["batch-1", "lr-1e308", "lr-2000", "epochs-0"],
)
def test_a_value_is_refused_from_the_spec_the_cli_and_python_alike(
    tmp_path: Path, train: str, option: str, value: str
) -> None:
    with pytest.raises(SpecError):
        normspec.load(spec_with(train))
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_with())
    code, out = run("train", spec, "--data", "digits", option, value)
    assert code == 2 and "Invalid value" in out
    settings = {"--batch-size": "batch_size", "--lr": "lr", "--epochs": "epochs"}[option]
    with pytest.raises(ValueError):
        RunSettings.from_spec(normspec.load(spec), **{settings: float(value)})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1e3", "0.5"])
def test_learning_rates_in_range_are_accepted_everywhere(value: str) -> None:
    spec = normspec.load(spec_with(f"{{optimizer: {{kind: sgd, learning_rate: {value}}}}}"))
    assert RunSettings.from_spec(spec, lr=float(value)).optimizer.learning_rate == float(value)


@needs_torch
def test_a_diverged_run_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "d.npz", x=np.full((20, 8, 8, 1), 1e18, np.float32))
    out = tmp_path / "run"
    code, text = run("train", MLP, "--data", data, "--epochs", "2", "--lr", "1000",
                     "--optimizer", "sgd", "--out", out)  # fmt: skip
    assert code == 1, text
    assert re.search(r"error: the run diverged: (val )?loss is not finite from epoch [12]", text)
    metrics = json.loads((out / "metrics.json").read_text())  # kept for inspection
    assert any(row[k] is None for row in metrics["epochs"] for k in ("loss", "val_loss"))


def test_float64_data_beyond_float32_is_refused_for_a_float32_model() -> None:
    spec = normspec.load(spec_with())
    x = np.ones((10, 3))
    x[3, 1] = 1e300
    data = Dataset("big", x[:8], np.arange(8) % 2, x[8:], np.arange(2) % 2)
    with pytest.raises(DataError, match=r"reach 1e\+300, beyond the largest float32"):
        check_dataset(spec, data)
    check_dataset(normspec.load(spec_with(dtype="float64")), data)  # fits a float64 model


# --- initializers within range -----------------------------------------------------------------


@pytest.mark.parametrize(
    "init",
    [
        "{distribution: uniform, low: -1.0e308, high: 1.0e308}",
        "{distribution: uniform, low: 0.0, high: 1.0e39}",
        "{distribution: constant, value: 1.0e300}",
        "{distribution: normal, mean: 0.0, std: 1.0e38}",
        "{distribution: truncated_normal, mean: 0.0, std: 1.0e38, low: -1.0e39, high: 1.0e39}",
    ],
    ids=["uniform-1e308", "uniform-high", "constant", "normal", "truncated"],
)
def test_initializers_beyond_float32_are_refused_at_validation(init: str) -> None:
    with pytest.raises(SpecError) as info:
        normspec.load(spec_with(layer=f"dense: {{units: 2, kernel_init: {init}}}"))
    problem = info.value.problems[0]
    assert "beyond the range an initial weight can take" in problem.message
    assert problem.location.line == 5 and problem.path[:3] == ("layers", 0, "dense")


def test_large_but_representable_initializers_are_accepted() -> None:
    spec = normspec.load(
        spec_with(layer="dense: {units: 2, kernel_init: {distribution: constant, value: 1.0e30}}")
    )
    assert np.isfinite(normspec.init_weights(spec)["dense_1.kernel"]).all()


# --- the Python API says what it expected ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: normspec.load(123), TypeError, "YAML file path .* not int"),
        (lambda: normspec.emit({"name": "x"}, "torch"), TypeError, "not dict; write it out"),
        (lambda: normspec.emit(MLP, 3), TypeError, "backend is named by a str"),
        (lambda: normspec.init_weights(MLP, seed=None), TypeError, "seed must be an int"),
        (lambda: normspec.init_weights(MLP, seed=-1), ValueError, "seed must be in"),
        (lambda: normspec.load_weights(5, MLP), TypeError, "path must be a str"),
        (lambda: normspec.load("specs/no_such_spec"), SpecError, "no such file"),
        (lambda: normspec.load(str(ROOT / "nope.yml")), SpecError, "no such file"),
    ],
    ids=[
        "load-int",
        "emit-dict",
        "backend-int",
        "seed-none",
        "seed-negative",
        "weights-int",
        "missing-path",
        "missing-yml",
    ],
)
def test_the_python_api_names_what_it_expected(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_yaml_text_on_one_line_is_still_yaml() -> None:
    text = "{normspec: 1, name: one, input: {shape: [2]}, layers: [{dense: 1}]}"
    assert normspec.load(text).name == "one"


# --- validation_split: 0 -----------------------------------------------------------------------


@needs_torch
def test_validation_split_zero_trains_on_every_sample(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "normspec: 1\nname: all\ninput: {shape: [8, 8, 1]}\nlayers:\n  - flatten\n"
        "  - dense: {units: 10, activation: softmax}\ntrain: {validation_split: 0, epochs: 1}\n"
    )
    out = tmp_path / "run"
    code, text = run("train", spec, "--data", write_npz(tmp_path / "d.npz"), "--out", out)
    assert code == 0, text
    assert "(no validation split)" in text and "val_loss" not in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["data"]["train"], metrics["data"]["validation"]) == (20, 0)
    assert metrics["epochs"][0]["val_loss"] is None
