"""Generated specs, not only hand-picked ones: every backend emits valid Python for random
specs, and computes what the numpy reference computes on them, in eval and train mode."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

import normspec
from normspec.parity import compare
from test_backends_shared import BACKENDS, available
from test_properties import load_valid, spec_text

INSTALLED = [b for b in BACKENDS if available(b)]


@settings(
    derandomize=True, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(spec_text())
def test_random_specs_emit_valid_python_in_every_backend(text: str) -> None:
    spec = load_valid(text)
    for backend in BACKENDS:
        source = normspec.emit(spec, backend)
        compile(source, f"<{backend}>", "exec")
        assert spec.hash in source


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="no backend installed")
@settings(
    derandomize=True, max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(spec_text())
def test_random_specs_agree_with_the_reference_in_float64(text: str) -> None:
    """Tolerance 1e-8 rather than the usual 1e-10: a random net can be ill-conditioned (a
    one-channel batch norm whose batch variance is tiny amplifies float64 rounding 1e4-fold),
    while any convention mismatch is far larger (GELU variants 4e-4, padding or the variance
    estimator 1e-2 and more)."""
    report = compare(load_valid(text), INSTALLED, dtype="float64", batch=3, seed=4, atol=1e-8)
    assert report.ok, report.table() + text
