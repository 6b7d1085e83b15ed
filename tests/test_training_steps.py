"""Each backend's explicit training steps (what training-step parity and ``compare --train``
rest on), against numpy: closed-form gradients with the IR's update rules, and the first
loss and running statistics of a batch-norm network against the reference interpreter; and a
ReLU, batch norm, max pool network, whose pool windows hold tied maxima, against PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.ir.graph import CanonicalSpec
from normspec.parity import parity_weights
from normspec.reference.spatial import windows
from test_backends_shared import BACKEND_PARAMS, available

OPTIMIZERS = [
    "{kind: sgd, learning_rate: 0.3, momentum: 0.9, nesterov: true}",
    "{kind: sgd, learning_rate: 0.3, momentum: 0.0}",
    "{kind: adam, learning_rate: 0.05, beta1: 0.8, beta2: 0.9, epsilon: 0.01}",
]

DROPOUT_RESTORED: dict[str, Callable[[Any], bool]] = {
    "torch": lambda m: m.conv2d_1_dropout.p == 0.5 and m.conv2d_1_dropout.training,
    "keras": lambda m: m.get_layer("conv2d_1_dropout").rate == 0.5,
    "flax": lambda m: not m.conv2d_1_dropout.deterministic,
}
"""After the steps (dropout off while they run) the model's dropout is as it was."""


def numpy_training(spec: CanonicalSpec, weights, batches):  # type: ignore[no-untyped-def]
    """Softmax regression trained in numpy: closed-form gradients, the IR's update rules."""
    opt = spec.train.optimizer
    params = {k: v.astype(np.float64) for k, v in weights.items()}
    moments = {k: [np.zeros_like(v), np.zeros_like(v)] for k, v in params.items()}
    losses = []
    for step, (x, y) in enumerate(batches, start=1):
        z = x @ params["dense_1.kernel"] + params["dense_1.bias"]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        losses.append(-np.mean(np.log(p[np.arange(len(y)), y])))
        dz = (p - np.eye(3)[y]) / len(y)
        for key, g in {"dense_1.kernel": x.T @ dz, "dense_1.bias": dz.sum(0)}.items():
            m, v = moments[key]
            if opt.kind == "sgd":
                m[:] = opt.momentum * m + g
                params[key] -= opt.learning_rate * (g + opt.momentum * m if opt.nesterov else m)
            else:
                m[:] = opt.beta1 * m + (1 - opt.beta1) * g
                v[:] = opt.beta2 * v + (1 - opt.beta2) * g * g
                m_hat, v_hat = m / (1 - opt.beta1**step), v / (1 - opt.beta2**step)
                params[key] -= opt.learning_rate * m_hat / (np.sqrt(v_hat) + opt.epsilon)
    return losses, params


def built(backend_name: str, spec: CanonicalSpec, weights):  # type: ignore[no-untyped-def]
    from normspec.backends import get_backend

    backend = get_backend(backend_name)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    return backend, model


@pytest.mark.parametrize("output", ["", "output: {logits: true}\n"], ids=["", "logits"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=["nesterov", "sgd", "adam"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_train_steps_match_closed_form_gradients(backend: str, optimizer: str, output: str):
    """Also when the model returns the logits (``output``): the same loss, the same steps."""
    spec = normspec.load(
        "normspec: 1\nname: lin\ninput: {shape: [5], dtype: float64}\n"
        f"layers:\n  - dense: {{units: 3, activation: softmax}}\n{output}"
        f"train: {{loss: cross_entropy, optimizer: {optimizer}}}\n"
    )
    rng = np.random.default_rng(5)
    batches = [(rng.normal(size=(4, 5)), rng.integers(0, 3, 4)) for _ in range(4)]
    weights = normspec.init_weights(spec, 0)
    b, model = built(backend, spec, weights)
    losses = b.train_steps(model, spec, batches)
    expected_losses, expected = numpy_training(spec, weights, batches)
    np.testing.assert_allclose(losses, expected_losses, rtol=0, atol=1e-12)
    after = b.get_weights(model, spec)
    for key, value in expected.items():
        np.testing.assert_allclose(after[key], value, rtol=0, atol=1e-12, err_msg=key)
        assert np.abs(value - weights[key]).max() > 1e-3  # the steps did move the weights


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mean_squared_error"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_train_steps_losses_and_running_statistics(backend: str, loss: str) -> None:
    """The first loss is the reference's on the initial weights, and the running statistics
    after one step (both estimators) are those of the reference's train-mode forward."""
    last = "sigmoid" if loss == "binary_cross_entropy" else "linear"
    spec = normspec.load(
        "normspec: 1\nname: bn\ninput: {shape: [4, 4, 2], dtype: float64}\nlayers:\n"
        "  - conv2d: {filters: 3, norm: {kind: batch, running_var: biased}, activation: relu, "
        "dropout: 0.5}\n  - flatten\n"
        f"  - dense: {{units: 2, activation: {last}, norm: batch}}\n"
        f"train: {{loss: {loss}, optimizer: {{kind: sgd, learning_rate: 0.1}}}}\n"
    )
    weights = parity_weights(spec, seed=6)
    b, model = built(backend, spec, weights)
    x = reference.init_batch(spec, 5, seed=7)
    y = (np.random.default_rng(8).random((5, 2)) > 0.5).astype(np.float64)
    (first,) = b.train_steps(model, spec, [(x, y)])
    outputs, new_weights = reference.forward(spec, weights, x, train=True)
    if loss == "mean_squared_error":
        expected = np.mean((outputs["output"] - y) ** 2)
    else:
        z = outputs[spec.ops[-2].name]
        expected = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    assert abs(first - expected) < 1e-12
    after = b.get_weights(model, spec)
    for key in ("conv2d_1_bn.mean", "conv2d_1_bn.var", "dense_1_bn.mean", "dense_1_bn.var"):
        np.testing.assert_allclose(after[key], new_weights[key], rtol=0, atol=1e-12, err_msg=key)
    assert DROPOUT_RESTORED[backend](model)


RELU_BN_POOL = """
normspec: 1
name: relu_bn_pool
input: {shape: [6, 6, 2], dtype: float64}
layers:
  - conv2d: {filters: 4, padding: same, activation: relu,
              norm: {kind: batch, position: after_activation}}
  - max_pool2d: {pool: 2, strides: 1}
  - flatten
  - dense: {units: 3, activation: softmax}
train: {optimizer: {kind: sgd, learning_rate: 0.1}, loss: cross_entropy}
"""


@cache
def relu_bn_pool_steps(backend: str):  # type: ignore[no-untyped-def]
    """Three SGD steps of conv, ReLU, batch norm, max pool: the ReLU's zeros, shifted by the
    batch norm, tie in many windows. The losses and the weights after."""
    spec = normspec.load(RELU_BN_POOL)
    weights = parity_weights(spec, seed=4)
    rng = np.random.default_rng(9)
    batches = [(rng.normal(size=(6, 6, 6, 2)), rng.integers(0, 3, 6)) for _ in range(3)]
    outputs, _ = reference.forward(spec, weights, batches[0][0], train=True)
    pooled = windows(outputs["conv2d_1_bn"], (2, 2), (1, 1), ((0, 0), (0, 0)))
    tied = (pooled == pooled.max(axis=(-2, -1), keepdims=True)).sum(axis=(-2, -1)) > 1
    assert tied.sum() > 20  # many windows hold tied maxima
    b, model = built(backend, spec, weights)
    return np.array(b.train_steps(model, spec, batches)), b.get_weights(model, spec)


@pytest.mark.parametrize("backend", [p for p in BACKEND_PARAMS if p.values != ("torch",)])
def test_relu_batch_norm_max_pool_steps_match_torch(backend: str) -> None:
    """Tied maxima after a ReLU and a batch norm do not part the frameworks: float64 SGD steps
    leave the same weights as PyTorch's to 1e-12. Those ties are ReLU zeros, so whichever of
    them takes a window's gradient, the ReLU passes none of it on and the batch norm's sums
    come out the same; the rule itself is tested in test_gradients.py."""
    if not available("torch"):
        pytest.skip("torch is not installed")
    losses, after = relu_bn_pool_steps(backend)
    torch_losses, torch_after = relu_bn_pool_steps("torch")
    np.testing.assert_allclose(losses, torch_losses, rtol=0, atol=1e-12)
    for key, value in torch_after.items():
        np.testing.assert_allclose(after[key], value, rtol=0, atol=1e-12, err_msg=key)
