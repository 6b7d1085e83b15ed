"""``Backend.gradients``: the loss's gradient for every trainable canonical weight, the same in
the three frameworks and equal to finite differences of the numpy reference, in float64; the
model is left as it was. Diagnostics record each kernel's gradient norm from it."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.backends import get_backend
from normspec.parity import parity_weights, with_dtype
from normspec.run import metrics
from normspec.run.diagnostics import for_run
from normspec.run.diagnostics_capture import capture
from test_backends_shared import BACKENDS, available

SPEC = with_dtype(
    normspec.load(
        "normspec: 1\ninput: {shape: [5]}\nlayers:\n"
        "  - dense: {units: 4, norm: batch, activation: tanh}\n"
        "  - dense: {units: 3, activation: softmax, norm: none}\n"
    ),
    "float64",
)
WEIGHTS = parity_weights(SPEC, seed=0)
X = reference.init_batch(SPEC, 6, seed=1)
Y = np.array([0, 1, 2, 0, 1, 2])


def reference_loss(weights: dict[str, np.ndarray]) -> float:
    out, _ = reference.forward(SPEC, weights, X, train=True)
    return metrics.loss(SPEC, out["output"], Y)


def finite_differences(key: str, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(WEIGHTS[key])
    for index in np.ndindex(grad.shape):
        up = {k: v.copy() for k, v in WEIGHTS.items()}
        down = {k: v.copy() for k, v in WEIGHTS.items()}
        up[key][index] += eps
        down[key][index] -= eps
        grad[index] = (reference_loss(up) - reference_loss(down)) / (2 * eps)
    return grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences_and_leave_the_model_alone(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    runner = get_backend(backend)
    model = runner.build(SPEC)
    runner.set_weights(model, SPEC, WEIGHTS)
    grads = runner.gradients(model, SPEC, X, Y)
    trainable = {w.key for s in SPEC.walk() for w in s.op.weights(s.input_shape) if w.trainable}
    assert set(grads) == trainable
    for key in ("dense_1.kernel", "dense_1_bn.scale", "dense_2.bias"):
        expected = finite_differences(key)
        assert grads[key].shape == WEIGHTS[key].shape
        assert np.max(np.abs(grads[key] - expected)) <= 1e-8 * max(1.0, np.max(np.abs(expected)))
    after = runner.get_weights(model, SPEC)
    assert all(np.array_equal(after[key], value) for key, value in WEIGHTS.items())


@pytest.mark.parametrize("backend", BACKENDS)
def test_diagnostics_record_each_kernels_gradient_norm(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    runner = get_backend(backend)
    model = runner.build(SPEC)
    runner.set_weights(model, SPEC, WEIGHTS)
    diagnostics = for_run(SPEC, X, 2, 1, Y)
    assert diagnostics is not None
    capture(runner, model, SPEC, diagnostics, step=0)
    norms = {op: v for _, op, stat, v in diagnostics.rows if stat == "grad_norm"}
    assert set(norms) == {"dense_1", "dense_2"}
    assert norms["dense_1"] == pytest.approx(np.linalg.norm(finite_differences("dense_1.kernel")))
