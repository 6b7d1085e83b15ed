"""The examples reproduce the users' questions end to end (each run here with fewer epochs)."""

from __future__ import annotations

import importlib.util
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
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_threshold_needs_input_normalization(tmp_path: Path) -> None:
    """The classic question: without input normalization the net stays at chance, batch norm
    after the first layer does not rescue it, input normalization solves it at once."""
    results = {r.label: r for r in example("threshold_normalization").run("torch", 1, tmp_path)}
    accuracy = {label: r.runs[0].final["val_accuracy"] for label, r in results.items()}
    assert accuracy["plain"] < 0.6 and [o.label for o in results["plain"].outcomes()] == ["stuck"]
    assert accuracy["batch_norm"] < 0.6
    assert accuracy["input_norm"] >= 0.99
    assert accuracy["both"] >= 0.95
    assert "| input_norm |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "curves.png").exists()


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
