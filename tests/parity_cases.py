"""Helpers the backend tests share: one-input specs from a few lines of YAML, and the check of a
built backend against the numpy reference. The table of cases every backend runs is
``conformance_cases.CASES``."""

from __future__ import annotations

from typing import Any

import numpy as np

import normspec
from normspec import reference
from normspec.ir.graph import CanonicalSpec
from normspec.parity import TOLERANCE, error, parity_weights


def make_spec(
    shape: str,
    layers: str,
    normalize: str = "none",
    dtype: str = "float32",
    name: str = "case",
    extra: str = "",
) -> CanonicalSpec:
    """A one-input spec: ``layers`` is the YAML of the layer list, one item per line; ``extra``
    more top-level YAML (an ``output`` section)."""
    body = "\n".join("  " + line for line in layers.splitlines())
    return normspec.load(
        f"normspec: 1\nname: {name}\ninput: {{shape: {shape}, dtype: {dtype}, "
        f"normalize: {normalize}}}\nlayers:\n{body}\n{extra}"
    )


def max_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference relative to the output scale, as ``normspec compare`` measures it;
    infinite when the shapes differ."""
    return error(actual, expected)[1]


def check_against_reference(
    backend: Any, spec: CanonicalSpec, seed: int = 1, tol: float | None = None
) -> None:
    """Eval mode (running statistics), then train mode (batch statistics, dropout off) on one
    built model: every top-level output, in the spec's shape and dtype, and the updated running
    statistics match the numpy reference, within ``tol`` (default
    :data:`normspec.parity.TOLERANCE` of the spec's dtype)."""
    weights = parity_weights(spec, seed=seed)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 3, seed=2)
    tol = TOLERANCE[spec.input.dtype] if tol is None else tol
    for mode in ("eval", "train"):
        train = mode == "train"
        expected, new_weights = reference.forward(spec, weights, x, train=train)
        outputs = backend.forward(model, spec, x, train=train)
        assert set(outputs) == set(expected), mode
        assert outputs["output"].shape == (3, *spec.output_shape), mode
        for name, value in expected.items():
            assert outputs[name].dtype == np.dtype(spec.input.dtype), (mode, name)
            assert max_error(outputs[name], value) <= tol, (mode, name)
        if train:
            after = backend.get_weights(model, spec)
            for key, value in new_weights.items():
                assert max_error(after[key], value) <= tol, (mode, key)
