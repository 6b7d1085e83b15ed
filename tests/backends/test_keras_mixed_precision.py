"""Keras' global dtype policy: a float32 spec's layers carry no dtype of their own, so under
``mixed_float16`` they compute in float16 with float32 variables, custom layers included; a
float64 spec's layers stay float64 whatever the policy."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from normspec import reference
from normspec.parity import parity_weights
from parity_cases import make_spec

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from test_keras_backend import ALL_WEIGHTS, ODD  # noqa: E402

from normspec.backends.keras import BACKEND  # noqa: E402


@pytest.fixture
def mixed_float16() -> Iterator[None]:
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def _computing_layers(model) -> list:  # type: ignore[no-untyped-def]
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_a_float32_model_follows_the_mixed_float16_policy(mixed_float16: None) -> None:
    spec = make_spec(ODD, ALL_WEIGHTS, "standardize")
    model = BACKEND.build(spec)
    assert {layer.compute_dtype for layer in _computing_layers(model)} == {"float16"}
    assert {v.dtype for v in model.weights} == {"float32"}
    BACKEND.set_weights(model, spec, parity_weights(spec, seed=5))
    x = reference.init_batch(spec, 4, seed=6)
    for train in (False, True):
        out = model(x, training=train)
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
        expected, _ = reference.forward(spec, parity_weights(spec, seed=5), x, train=train)
        np.testing.assert_allclose(np.asarray(out, np.float64), expected["output"], atol=0.05)


def test_a_float64_model_keeps_its_dtype_under_the_mixed_policy(mixed_float16: None) -> None:
    model = BACKEND.build(make_spec(ODD, ALL_WEIGHTS, "standardize", "float64"))
    assert {layer.compute_dtype for layer in _computing_layers(model)} == {"float64"}
    assert {v.dtype for v in model.weights} == {"float64"}


def test_unbiased_batch_norm_counts_more_values_than_float16_holds(mixed_float16: None) -> None:
    """256 x 256 values per channel: the count n exceeds float16's largest finite value, so
    the n / (n - 1) correction must not be computed in float16."""
    spec = make_spec("[256, 256, 2]", "- batch_norm: {momentum: 0.5}")
    model = BACKEND.build(spec)
    weights = parity_weights(spec, seed=7)
    BACKEND.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 1, seed=8)
    out = model(x, training=True)
    expected, updated = reference.forward(spec, weights, x, train=True)
    np.testing.assert_allclose(np.asarray(out, np.float64), expected["output"], atol=0.02)
    after = BACKEND.get_weights(model, spec)
    for key, value in updated.items():
        np.testing.assert_allclose(after[key], value, rtol=1e-3, err_msg=key)
