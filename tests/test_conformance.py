"""The conformance suite: every case of ``conformance_cases.CASES`` through every backend, in
eval and train mode, in float32 and float64, against the numpy reference; the emitted source of
each backend takes the path each case is meant to test; and every op of the IR has a printer and a
weight map in every backend, a case of the table and a row in the README."""

from __future__ import annotations

import importlib
import re

import pytest

import normspec
from conformance_cases import BACKENDS, CASE_OF, CASES, DTYPES
from conftest import ROOT, SPECS
from normspec.backends import get_backend
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.parity import TOLERANCE, with_dtype
from parity_cases import check_against_reference
from test_backends_shared import available


def _run_params() -> list[object]:
    params = []
    for backend in BACKENDS:
        marks = [
            getattr(pytest.mark, backend),
            pytest.mark.skipif(not available(backend), reason=f"{backend} backend missing"),
        ]
        for dtype in DTYPES:
            for case in CASES:
                xfail = case.xfail.get(backend)
                also = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
                marked = [*marks, *also]
                params.append(pytest.param(backend, dtype, case.id, marks=marked))
    return params


@pytest.mark.parametrize(("backend", "dtype", "case"), _run_params())
def test_backend_matches_the_reference(backend: str, dtype: str, case: str) -> None:
    """One built model, eval then train mode: outputs, their shape and dtype, and the updated
    running statistics match the numpy reference within the case's tolerance."""
    spec = with_dtype(CASE_OF[case].spec, dtype)
    check_against_reference(get_backend(backend), spec, tol=CASE_OF[case].tol(dtype))


@pytest.mark.parametrize(
    ("backend", "case"),
    [(backend, case.id) for case in CASES for backend in BACKENDS if backend in case.emits],
)
def test_emitted_source_takes_the_cases_path(backend: str, case: str) -> None:
    """Emitting needs no framework: each case takes the emission path it is meant to test."""
    assert CASE_OF[case].emits[backend] in get_backend(backend).emit(CASE_OF[case].spec)


def test_the_table_is_well_formed() -> None:
    """Unique ids, one distinct spec per case, the declared output shape is the one the spec
    infers, and the per-backend and per-dtype entries name known backends and dtypes."""
    assert len(CASE_OF) == len(CASES)
    hashes = {case.spec.hash: case.id for case in CASES}
    assert len(hashes) == len(CASES), "two cases hold the same spec"
    for case in CASES:
        assert tuple(case.spec.output_shape) == case.output, case.id
        assert set(case.emits) | set(case.xfail) <= set(BACKENDS), case.id
        assert all(case.xfail.values()), f"{case.id}: an expected failure says why"
        assert set(case.tolerance) <= set(TOLERANCE), case.id


def readme_kinds() -> set[str]:
    """The spec-language names in the first column of the README's tables of "The spec
    language" (``max_pool1d/2d`` names ``max_pool1d`` and ``max_pool2d``)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## The spec language")
    section = readme[start : readme.index("\n## ", start + 1)]
    kinds: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
                pair = re.fullmatch(r"(\w+)1d/2d", name)
                kinds.update([f"{pair[1]}1d", f"{pair[1]}2d"] if pair else [name])
    return kinds


def _roles(specs: list[CanonicalSpec]) -> dict[type[ir.Op], set[str]]:
    roles: dict[type[ir.Op], set[str]] = {}
    for node in (node for spec in specs for node in spec.nodes):
        weights = node.op.weights(node.input_shape)
        roles.setdefault(type(node.op), set()).update(w.role.name for w in weights)
    return roles


def test_every_op_has_a_printer_a_weight_map_a_case_and_a_readme_row() -> None:
    """For every op class of the IR: a printer in each backend (and no printer for anything
    else); a case of the conformance table whose canonical spec holds it; a slot in each
    backend's weight map for every weight role it has in the cases and the shipped specs (and no
    map for an op without weights); a row of the README's spec-language tables naming the kind
    that writes it (its ``op`` key: a layer kind or an input normalization)."""
    missing: list[str] = []
    cases = [case.spec for case in CASES]
    roles = _roles([*cases, *(normspec.load(path) for path in SPECS)])
    covered = _roles(cases)
    kinds = readme_kinds()
    for cls in ir.OP_CLASSES:
        name, key = cls.__name__, cls.model_fields["op"].default
        if cls not in covered:
            missing.append(f"{name}: no case of the conformance table holds it")
        if key not in kinds:
            missing.append(f"{name}: no README row for `{key}`")
        for backend in BACKENDS:
            emitter = importlib.import_module(f"normspec.backends.{backend}.emitter")
            if cls not in emitter.EMITTERS:
                missing.append(f"{name}: no {backend} printer")
            unmapped = roles.get(cls, set()) - set(emitter.WEIGHT_MAPS.get(cls, {}))
            if unmapped:
                missing.append(
                    f"{name}: no slot in the {backend} weight map for {sorted(unmapped)}"
                )
            if cls in emitter.WEIGHT_MAPS and not roles.get(cls):
                missing.append(f"{name}: a {backend} weight map but no weights")
    for backend in BACKENDS:
        emitter = importlib.import_module(f"normspec.backends.{backend}.emitter")
        for table in ("EMITTERS", "WEIGHT_MAPS"):
            extra = set(getattr(emitter, table)) - set(ir.OP_CLASSES)
            if extra:
                missing.append(f"{backend} {table} entries for what is not an op: {extra}")
    assert not missing, "\n".join(missing)


def test_every_activation_has_a_formula_a_case_and_a_readme_entry() -> None:
    """Every function of the IR's activation op: its formula (the reference evaluates it), a
    conformance case that applies it, its name in the README's list of activations, and the
    spec language accepts it (its list of names is the IR's, plus ``linear``)."""
    from typing import get_args

    from normspec.ir.ops.tensor import FORMULAS
    from normspec.spec.models import ActivationName

    functions = set(get_args(ir.ActivationFunction))
    assert set(FORMULAS) == functions
    assert set(get_args(ActivationName)) == functions | {"linear"}
    applied = {
        node.op.function
        for case in CASES
        for node in case.spec.nodes
        if isinstance(node.op, ir.Activation)
    }
    readme = (ROOT / "README.md").read_text()
    listed = readme[readme.index("**Activations**") :].split("\n\n")[0]
    missing = [f"{fn}: no conformance case" for fn in sorted(functions - applied)]
    missing += [
        f"{fn}: not in the README"
        for fn in sorted(functions)
        if not re.search(rf"\b{fn}\b", listed)
    ]
    assert not missing, "\n".join(missing)
