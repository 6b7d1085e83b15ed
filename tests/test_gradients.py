"""``Backend.gradients``: the loss's gradient for every trainable canonical weight, the same in
the three frameworks and equal to finite differences of the numpy reference, in float64; the
model is left as it was. Diagnostics record each kernel's gradient norm from it. A max pool's
gradient on tied maxima follows one rule in the three frameworks, checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.backends import get_backend
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.parity import parity_weights, with_dtype
from normspec.reference.spatial import windows
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
    trainable = {w.key for s in SPEC.nodes for w in s.op.weights(s.input_shape) if w.trainable}
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


# --- max pools on exact ties ---------------------------------------------------------------------

POOLS = {  # case -> (input shape, conv kind, pool layer)
    "2x2_stride_2": ([4, 4, 2], "conv2d", "max_pool2d: 2"),
    "3x3_stride_1_overlapping": ([4, 4, 2], "conv2d", "max_pool2d: {pool: 3, strides: 1}"),
    "3x3_stride_2_same_padding": ([4, 4, 2], "conv2d", "max_pool2d: {pool: 3, strides: 2, padding: same}"),
    "1d_3_stride_2": ([7, 2], "conv1d", "max_pool1d: {pool: 3, strides: 2}"),
    "global": ([3, 3, 2], "conv2d", "global_max_pool"),
}  # fmt: skip
TIE_KERNEL = np.array([[1.0, 1.0], [0.0, 1.0]])
"""1x1 conv kernel (in, out): output 0 is x0 + x1, output 1 is x1, so cells (1, 0) and (0, 1)
tie on output 0 and cells (0, 1) and (1, 1) on output 1, with different inputs: which tied cell
gets a window's gradient shows in the kernel's gradient."""


def tie_spec(case: str) -> CanonicalSpec:
    shape, conv, pool = POOLS[case]
    flatten = "" if pool == "global_max_pool" else "  - flatten\n"
    return normspec.load(
        f"normspec: 1\nname: ties\ninput: {{shape: {shape}, dtype: float64}}\nlayers:\n"
        f"  - {conv}: {{filters: 2, kernel: 1, use_bias: false, name: conv}}\n  - {pool}\n"
        f"{flatten}  - dense: {{units: 3, activation: softmax, name: out}}\n"
    )


def routed(spec: CanonicalSpec, y: np.ndarray, grad: np.ndarray, rule: str) -> np.ndarray:
    """The gradient at the pool's input ``y`` for ``grad`` at its output, by ``rule``: each
    window's to its ``first`` or ``last`` largest cell in row-major order, or split ``even``ly
    among them. A global max pool is one window over the whole input."""
    op = spec.ops[1]
    if isinstance(op, ir.GlobalMaxPool):
        pool, strides, padding = y.shape[1:-1], (1,) * (y.ndim - 2), ((0, 0),) * (y.ndim - 2)
        grad = grad.reshape(len(y), *(1,) * (y.ndim - 2), -1)
    else:
        assert isinstance(op, ir.MaxPool1D | ir.MaxPool2D)
        pool, strides, padding = op.pool, op.strides, op.padding
    cells = windows(y, pool, strides, padding, fill=-np.inf)
    cells = cells.reshape(*cells.shape[: y.ndim], -1)  # (N, *out, C, window cells)
    out = np.zeros_like(y)
    for index in np.ndindex(grad.shape):
        n, *at, c = index
        flat = cells[index]
        top = np.flatnonzero(flat == flat.max())
        chosen = {"first": top[:1], "last": top[-1:], "even": top}[rule]
        for cell in chosen:
            offset = np.unravel_index(cell, pool)
            position = [a * s + o - before for a, s, o, (before, _) in
                        zip(at, strides, offset, padding, strict=True)]  # fmt: skip
            out[(n, *position, c)] += grad[index] / len(chosen)
    return out


def tie_gradients(spec: CanonicalSpec, weights, x, y, rule: str):  # type: ignore[no-untyped-def]
    """The cross-entropy's gradients for the conv kernel and the dense layer, in numpy, with
    the pool's gradient :func:`routed` by ``rule``."""
    conv = x @ weights["conv.kernel"].reshape(2, 2)
    pooled = reference.forward(spec, weights, x, train=True)[0][spec.ops[1].name]
    features = pooled.reshape(len(x), -1)
    z = features @ weights["out.kernel"] + weights["out.bias"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    dz = (p / p.sum(axis=1, keepdims=True) - np.eye(3)[y]) / len(x)
    dconv = routed(spec, conv, (dz @ weights["out.kernel"].T).reshape(pooled.shape), rule)
    kernel = (x.reshape(-1, 2).T @ dconv.reshape(-1, 2)).reshape(weights["conv.kernel"].shape)
    return {"conv.kernel": kernel, "out.kernel": features.T @ dz, "out.bias": dz.sum(axis=0)}


@pytest.mark.parametrize("case", POOLS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_gradient_goes_to_the_first_tied_maximum(backend: str, case: str) -> None:
    """normspec's convention, the same in the three frameworks: a window's whole gradient goes
    to its first largest cell in row-major order (PyTorch's rule; overlapping windows add up,
    padded cells never win); a global max pool splits it evenly among tied cells. Float64,
    against numpy, on inputs whose windows tie between cells with different inputs, so that
    another rule gives another kernel gradient."""
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    spec = tie_spec(case)
    weights = parity_weights(spec, seed=0)
    weights["conv.kernel"] = TIE_KERNEL.reshape(weights["conv.kernel"].shape)
    rng = np.random.default_rng(3)
    cells = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    x = cells[rng.integers(0, 3, (4, *spec.input.shape[:-1]))]
    y = rng.integers(0, 3, 4)
    rule, other = ("even", "first") if case == "global" else ("first", "last")
    expected = tie_gradients(spec, weights, x, y, rule)
    different = tie_gradients(spec, weights, x, y, other)["conv.kernel"]
    assert np.abs(expected["conv.kernel"] - different).max() > 1e-3
    runner = get_backend(backend)
    model = runner.build(spec)
    runner.set_weights(model, spec, weights)
    grads = runner.gradients(model, spec, x, y)
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value, rtol=0, atol=1e-12, err_msg=key)
