"""What every backend must satisfy: golden, deterministic, lint-clean emitted code for every
spec, parity of every spec with the numpy reference and across backends, the same numerics where
frameworks differ. The per-op cases, and the check that every op has a printer, a weight map, a
case and a README row, are in test_conformance.py."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import normspec
from conformance_cases import CASE_OF
from conftest import GOLDEN, SPECS, check_golden
from normspec.ir import ops as ir
from normspec.parity import compare

BACKENDS = ["torch", "keras", "flax"]


def available(name: str) -> bool:
    """The backend package and its framework are both installed."""
    if importlib.util.find_spec(name) is None:
        return False
    try:
        importlib.import_module(f"normspec.backends.{name}")
    except ImportError:
        return False
    return True


BACKEND_PARAMS = [
    pytest.param(b, marks=pytest.mark.skipif(not available(b), reason=f"{b} backend missing"))
    for b in BACKENDS
]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_registering_an_emitter_twice_raises(backend: str) -> None:
    emitter = importlib.import_module(f"normspec.backends.{backend}.emitter")
    with pytest.raises(ValueError, match="emitter for Dense registered twice"):
        emitter.register(ir.Dense)(lambda op, site: None)
    assert emitter.EMITTERS[ir.Dense].__name__ != "<lambda>"


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_emitted_source_golden_and_deterministic(backend: str, path: Path) -> None:
    spec = normspec.load(path)
    source = normspec.emit(spec, backend)
    assert normspec.emit(normspec.load(path), backend) == source
    assert "normspec" not in "\n".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )
    assert spec.hash in source and normspec.__version__ in source
    check_golden(GOLDEN / backend / f"{path.stem}.py", source)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_emitted_source_is_ruff_clean(backend: str) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    with tempfile.TemporaryDirectory() as tmp:
        for path in SPECS:
            (Path(tmp) / f"{path.stem}.py").write_text(normspec.emit(path, backend))
        for args in (
            ["check", "--isolated"],  # ruff's default rules, as a user's project runs them
            ["check", "--isolated", "--select", "E,F,W,I,B,UP"],
            ["format", "--check", "--isolated"],
        ):
            result = subprocess.run([str(ruff), *args, tmp], capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr


def _parity(backends: list[str], spec, dtype: str):
    report = compare(spec, backends, dtype=dtype, batch=3, seed=1)
    assert report.ok, report.table()
    return report


@pytest.mark.slow
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_parity_across_backends(path: Path) -> None:
    backends = [b for b in BACKENDS if available(b)]
    if not backends:
        pytest.skip("no backend")
    spec = normspec.load(path)
    _parity(backends, spec, "float64")
    _parity(backends, spec, "float32")


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_framework_is_a_clear_error(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Emitting needs no framework; building without it names the package to install."""
    from types import SimpleNamespace

    from normspec.backends import get_backend, lazy
    from normspec.errors import BackendError

    def import_module(name: str):  # type: ignore[no-untyped-def]
        raise ModuleNotFoundError(f"No module named '{backend}'", name=backend)

    monkeypatch.setattr(lazy, "importlib", SimpleNamespace(import_module=import_module))
    spec = CASE_OF["dense"].spec
    assert "def " in get_backend(backend).emit(spec)
    hint = rf"backend '{backend}' needs its framework \({backend} is missing\): pip install 'normspec\[{backend}\]'"
    with pytest.raises(BackendError, match=hint):
        get_backend(backend).build(spec)


LARGE_MEAN_NORMS = ["batch_norm: {running_var: biased}", "batch_norm", "layer_norm",
                    "group_norm: {groups: 2}", "instance_norm"]  # fmt: skip


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("norm", LARGE_MEAN_NORMS)
def test_variance_is_two_pass_on_large_means(backend: str, norm: str) -> None:
    """Activations with mean 1e4 and unit spread: the fast E[x^2] - E[x]^2 variance (Flax's
    default) loses about 1e-8 in float64, the two-pass one agrees with numpy to 1e-10."""
    spec = normspec.load(
        "normspec: 1\nname: large_mean\n"
        "input: {shape: [6, 6, 4], dtype: float64, normalize: {kind: rescale, scale: 1.0, "
        f"offset: 10000.0}}}}\nlayers:\n  - {norm}\n"
    )
    report = compare(spec, [backend], dtype="float64", batch=3, seed=2)
    assert report.ok, report.table()


def _dropout_outputs(backend: str, spec, x):  # type: ignore[no-untyped-def]
    """The built model's output in training mode, dropout active, each framework's own way."""
    model = normspec.build(spec, backend)
    if backend == "torch":
        import torch

        model.train()
        return model(torch.from_numpy(x)).detach().numpy()
    if backend == "keras":
        return np.asarray(model(x, training=True))
    model.train()
    return np.asarray(model(x))


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_dropout_rate_is_the_drop_probability(backend: str) -> None:
    """``rate`` is the probability of dropping (not of keeping) and kept values are scaled by
    1 / (1 - rate), in every backend."""
    spec = normspec.load(
        "normspec: 1\nname: drop\ninput: {shape: [4000]}\nlayers:\n  - dropout: 0.3\n"
    )
    out = _dropout_outputs(backend, spec, np.ones((2, 4000), np.float32))
    dropped = float(np.mean(out == 0))
    assert abs(dropped - 0.3) < 0.03, dropped
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)
