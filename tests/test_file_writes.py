"""Every file normspec writes appears whole or not at all, replaces a link planted at its path
instead of writing through it, and is byte-identical for identical content; a run folder is
replaced whole; Ctrl-C exits 130 and leaves nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from test_cli_robustness import MLP, files_in, run, write_npz

import normspec
from conftest import ROOT
from normspec import files
from normspec.run import train as train_module
from normspec.weights import safetensors_bytes
from test_backends_shared import available

needs_torch = pytest.mark.skipif(not available("torch"), reason="needs torch")
NATIVE = [
    pytest.param(name, marks=pytest.mark.skipif(not available(b), reason=f"needs {b}"))
    for name, b in [("w.pt", "torch"), ("w.weights.h5", "keras"), ("w.msgpack", "flax")]
]


def plant_link(path: Path, victim: Path) -> None:
    path.symlink_to(victim)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    return target


def untouched(victim: Path) -> bool:
    return victim.read_text() == "precious\n"


# --- single files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["canonical", MLP], "c.yaml"),
        (["build", MLP, "--backend", "torch"], "m.py"),
        (["schema"], "s.json"),
        (["weights", "init", MLP], "w.safetensors"),
    ],
    ids=["canonical", "build", "schema", "weights-init"],
)
def test_a_link_at_the_output_is_replaced_not_written_through(
    tmp_path: Path, victim: Path, args: list, name: str
) -> None:
    out = tmp_path / name
    plant_link(out, victim)
    code, text = run(*args, "-o", out)
    assert code == 0, text
    assert untouched(victim)
    assert not out.is_symlink() and out.stat().st_size > 0
    assert files_in(tmp_path) == sorted([name, "victim"])


@pytest.mark.parametrize("name", NATIVE)
def test_native_weights_replace_planted_links(tmp_path: Path, victim: Path, name: str) -> None:
    source = tmp_path / "w.safetensors"
    assert run("weights", "init", MLP, "-o", source)[0] == 0
    out = tmp_path / name
    plant_link(out, victim)
    for old_partial in (f"{name}.partial{Path(name).suffix}", f"{name}.partial"):
        plant_link(tmp_path / old_partial, victim)  # where earlier versions wrote first
    code, text = run("weights", "convert", MLP, source, "-o", out)
    assert code == 0, text
    assert untouched(victim)
    assert not out.is_symlink()
    assert run("weights", "convert", MLP, out, "-o", tmp_path / "back.safetensors")[0] == 0
    assert (tmp_path / "back.safetensors").read_bytes() == source.read_bytes()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "f.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError), files.replacing(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert out.read_text() == "old"
    assert files_in(tmp_path) == ["f.txt"]


def test_temporary_names_are_fresh_and_exclusive(tmp_path: Path) -> None:
    out = tmp_path / "f.txt"
    with files.replacing(out) as first, files.replacing(out) as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.startswith(".f.txt.") and first.exists()
        first.write_text("1")
        second.write_text("2")
    assert out.read_text() == "1"  # the last rename wins; neither wrote through the other


# --- identical content, identical bytes; strict JSON -------------------------------------------


def test_weights_init_is_byte_identical_across_runs(tmp_path: Path) -> None:
    spec = ROOT / "specs" / "cifar_cnn.yaml"
    written = []
    for k in range(3):
        path = tmp_path / f"w{k}.safetensors"
        assert run("weights", "init", spec, "-o", path, "--seed", "3")[0] == 0
        written.append(path.read_bytes())
    assert written[0] == written[1] == written[2]


def test_safetensors_encoding_reads_back_with_the_package(tmp_path: Path) -> None:
    arrays = {
        "b.kernel": np.arange(12, dtype=np.float32).reshape(3, 4),
        "a.bias": np.array([1.5, -2.0], np.float64),
        "c.scale": np.array([], np.float32),
    }
    metadata = {"z": "last", "a": "first", "normspec": "x"}
    path = tmp_path / "w.safetensors"
    path.write_bytes(safetensors_bytes(arrays, metadata))
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == metadata
        read = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    assert read.keys() == arrays.keys()
    for key, array in arrays.items():
        assert read[key].dtype == array.dtype and np.array_equal(read[key], array)
    assert safetensors_bytes(arrays, dict(reversed(metadata.items()))) == path.read_bytes()


def test_strict_json_replaces_what_json_cannot_hold() -> None:
    value = {"loss": [0.5, float("nan")], "best": float("inf"), "n": 3, "t": (float("-inf"),)}
    text = json.dumps(train_module.strict_json(value))

    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in JSON")

    assert json.loads(text, parse_constant=refuse) == {
        "loss": [0.5, None],
        "best": None,
        "n": 3,
        "t": [None],
    }


def test_metrics_of_a_diverged_run_are_strict_json(tmp_path: Path) -> None:
    spec = normspec.load(MLP)
    nan, inf = float("nan"), float("inf")
    history = train_module.History("torch", [{"epoch": 1, "loss": nan, "val_loss": inf}])
    train_module.save_run(tmp_path, spec, history, normspec.init_weights(spec))

    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in metrics.json")

    metrics = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=refuse)
    assert metrics["epochs"] == [{"epoch": 1, "loss": None, "val_loss": None}]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1] == "1,nan,inf"


# --- run folders -------------------------------------------------------------------------------


def train_args(data: Path, out: Path, *extra: str) -> list:
    return ["train", MLP, "--data", data, "--epochs", "1", "--out", out, *extra]


@needs_torch
@pytest.mark.parametrize("name", ["metrics.json", "metrics.csv", "weights.safetensors"])
def test_a_run_folder_with_planted_links_is_refused(
    tmp_path: Path, victim: Path, name: str
) -> None:
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "run"
    out.mkdir()
    plant_link(out / name, victim)
    code, text = run(*train_args(data, out))
    assert code == 2
    assert f"it holds files normspec did not write ({name})" in text
    assert "epoch 1/1" not in text  # refused before training
    assert untouched(victim) and (out / name).is_symlink()


@needs_torch
def test_a_run_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "run"
    plant_link(out, elsewhere)
    code, text = run(*train_args(write_npz(tmp_path / "d.npz"), out))
    assert code == 2 and "exists and is not a folder" in text
    assert list(elsewhere.iterdir()) == []


@needs_torch
def test_a_run_replaces_earlier_results_whole_and_says_so(tmp_path: Path) -> None:
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "run"
    assert run(*train_args(data, out, "--seed", "1"))[0] == 0
    first = json.loads((out / "metrics.json").read_text())
    (out / "over_seeds.csv").write_text("from an earlier ablation")
    code, text = run(*train_args(data, out, "--seed", "2"))
    assert code == 0, text
    assert f"replaced the earlier results in {out}/" in text
    second = json.loads((out / "metrics.json").read_text())
    assert (first["settings"]["seed"], second["settings"]["seed"]) == (1, 2)
    written = ["curves.png", "metrics.csv", "metrics.json", "report.html", "report.md",
               "weights.safetensors"]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == written
    assert files_in(tmp_path) == ["d.npz", "run", *(f"run/{n}" for n in written)]


@needs_torch
@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_run_that_fails_half_way_leaves_the_earlier_run(
    tmp_path: Path, monkeypatch, failure: BaseException
) -> None:
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "run"
    assert run(*train_args(data, out, "--seed", "1"))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*args: object) -> None:  # metrics are written by now; weights come last
        raise failure

    monkeypatch.setattr(train_module, "save_weights", fail)
    code, text = run(*train_args(data, out, "--seed", "2"))
    assert code == (130 if isinstance(failure, KeyboardInterrupt) else 2)
    assert ("interrupted" if code == 130 else f"cannot write {out}: No space left") in text
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "run"]


def test_ctrl_c_while_writing_a_file_exits_130_and_leaves_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "c.yaml"
    out.write_text("old\n")

    def interrupted(path: Path, data: bytes) -> None:
        with files.replacing(path) as tmp:
            tmp.write_bytes(data[: len(data) // 2])
            raise KeyboardInterrupt

    monkeypatch.setattr(files, "write_bytes", interrupted)
    code, text = run("canonical", MLP, "-o", out)
    assert (code, text.strip()) == (130, "interrupted")
    assert out.read_text() == "old\n" and files_in(tmp_path) == ["c.yaml"]
