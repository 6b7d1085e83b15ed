"""Training-step parity: from identical weights, ten optimizer steps on identical batches leave
matching weights, running statistics and outputs in every backend."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from normspec.parity import parity_weights, with_dtype
from test_backends_shared import available

SPEC = """
normspec: 1
name: step_parity
input: {shape: [6, 6, 2]}
defaults:
  activation: relu
  norm: {kind: batch, position: before_activation}
layers:
  - conv2d: {filters: 4, padding: same, strides: 2}
  - conv2d: {filters: 4, padding: 1, activation: {function: gelu, approximate: tanh}}
  - max_pool2d: {pool: 2}
  - flatten
  - dense: {units: 8, norm: {kind: layer}, dropout: 0.25}
  - dense: {units: 3, activation: softmax, norm: none}
train: {optimizer: {kind: sgd, learning_rate: 0.1, momentum: MOMENTUM}, loss: cross_entropy}
"""
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


def batches(dtype: str, n: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(5, 6, 6, 2)).astype(dtype), rng.integers(0, 3, 5)) for _ in range(n)]


def run(backend_name: str, spec, weights):
    from normspec.backends import get_backend

    backend = get_backend(backend_name)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    losses = backend.train_steps(model, spec, batches(spec.input.dtype))
    after = backend.get_weights(model, spec)
    x = batches(spec.input.dtype, 11)[-1][0]
    out = backend.forward(model, spec, x, train=False)["output"]
    return np.array(losses), after, out


@pytest.mark.slow
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ten_sgd_steps_match(momentum: float, dtype: str) -> None:
    names = [b for b in ("torch", "keras", "flax") if available(b)]
    if len(names) < 2:
        pytest.skip("needs two backends")
    spec = with_dtype(normspec.load(SPEC.replace("MOMENTUM", str(momentum))), dtype)
    weights = parity_weights(spec, seed=3)
    results = {name: run(name, spec, weights) for name in names}
    ref_losses, ref_weights, ref_out = results[names[0]]
    tol = TOLERANCE[dtype]
    for name in names[1:]:
        losses, after, out = results[name]
        np.testing.assert_allclose(losses, ref_losses, atol=tol, rtol=0, err_msg=name)
        for key, value in ref_weights.items():
            np.testing.assert_allclose(after[key], value, atol=tol, rtol=0, err_msg=f"{name} {key}")
        np.testing.assert_allclose(out, ref_out, atol=tol, rtol=0, err_msg=name)
        changed = max(float(np.max(np.abs(after[k] - weights[k]))) for k in weights)
        assert changed > 10 * tol  # the steps moved the weights well beyond the tolerance
