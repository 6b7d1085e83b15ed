"""What every backend must satisfy: an emitter per op, a parity case per op, golden emitted
code for every spec, determinism, and parity with the numpy reference and each other."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import normspec
from conftest import GOLDEN, SPECS, check_golden
from normspec.ir import ops as ir
from normspec.parity import compare
from parity_cases import CASES, SPEC_OF

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
def test_every_op_has_an_emitter(backend: str) -> None:
    emitter = importlib.import_module(f"normspec.backends.{backend}.emitter")
    assert set(emitter.EMITTERS) == set(ir.OP_CLASSES)


def test_every_op_has_a_parity_case() -> None:
    covered = {type(site.op) for spec in SPEC_OF.values() for site in spec.walk()}
    assert covered == set(ir.OP_CLASSES)


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
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_op_parity_across_backends(case: str, dtype: str) -> None:
    backends = [b for b in BACKENDS if available(b)]
    if not backends:
        pytest.skip("no backend")
    _parity(backends, SPEC_OF[case], dtype)


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
    spec = SPEC_OF["dense"]
    assert "def " in get_backend(backend).emit(spec)
    hint = rf"backend '{backend}' needs its framework \({backend} is missing\): pip install 'normspec\[{backend}\]'"
    with pytest.raises(BackendError, match=hint):
        get_backend(backend).build(spec)
