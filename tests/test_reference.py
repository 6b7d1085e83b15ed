"""The numpy reference interpreter, checked against independent formulations: naive loops for
convolutions and pools, per-slice statistics for normalizations, the statistics module for the
running-variance estimators, and known values of the error function."""

from __future__ import annotations

import decimal
import itertools
import math
import statistics
import time

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.reference import JOINS, KERNELS
from normspec.reference._core import register
from normspec.weights import init_weights


def _spec(
    shape: str, layers: str, dtype: str = "float64", normalize: str = "none"
) -> CanonicalSpec:
    body = "\n".join("  " + line for line in layers.strip().splitlines())
    text = (
        f"normspec: 1\nname: t\ninput: {{shape: {shape}, dtype: {dtype}, normalize: {normalize}}}\n"
        f"layers:\n{body}\n"
    )
    return normspec.load(text)


def _run(spec: CanonicalSpec, *, train: bool = False, n: int = 2, seed: int = 0, weights=None):
    w = init_weights(spec, seed) if weights is None else weights
    x = reference.init_batch(spec, n, seed + 1)
    out, new = reference.forward(spec, w, x, train=train)
    return x.astype(np.float64), w, out, new


def _randomize(spec: CanonicalSpec, w: dict, seed: int = 5) -> dict:
    """Non-trivial scale, shift and running statistics, so their use is visible."""
    rng = np.random.default_rng(seed)
    w = dict(w)
    for key, value in w.items():
        role = key.rsplit(".", 1)[1]
        if role in ("scale", "var", "std"):
            w[key] = rng.uniform(0.5, 2.0, value.shape)
        elif role in ("shift", "mean", "bias"):
            w[key] = rng.normal(0.0, 1.0, value.shape)
    return w


# --- naive oracles ----------------------------------------------------------------------------


def _naive_windows(shape, window, strides, padding, dilation=None):
    """``(out_size, windows)``: each window is ``(n, out_position, [(tap, source), ...])`` for
    a ``shape`` batch, listing only the taps that fall on real (unpadded) cells."""
    spatial = shape[1:-1]
    dilation = dilation or (1,) * len(window)
    out_size = [
        (size + a + b - (k - 1) * d - 1) // st + 1
        for size, (a, b), k, d, st in zip(spatial, padding, window, dilation, strides, strict=True)
    ]
    windows = []
    for n, pos in itertools.product(range(shape[0]), itertools.product(*map(range, out_size))):
        cells = []
        for tap in itertools.product(*map(range, window)):
            src = tuple(
                p * st + t * d - pad[0]
                for p, st, t, d, pad in zip(pos, strides, tap, dilation, padding, strict=True)
            )
            if all(0 <= i < size for i, size in zip(src, spatial, strict=True)):
                cells.append((tap, src))
        windows.append((n, pos, cells))
    return out_size, windows


def _naive_conv(x, kernel, bias, op) -> np.ndarray:
    """Direct sum over output positions, filters, taps and the group's channels."""
    per_group, out_per_group = x.shape[-1] // op.groups, op.filters // op.groups
    out_size, windows = _naive_windows(x.shape, op.kernel, op.strides, op.padding, op.dilation)
    y = np.zeros((x.shape[0], *out_size, op.filters))
    for (n, pos, cells), f in itertools.product(windows, range(op.filters)):
        g = f // out_per_group
        total = 0.0 if bias is None else bias[f]
        for (tap, src), c in itertools.product(cells, range(per_group)):
            total += x[(n, *src, g * per_group + c)] * kernel[(*tap, c, f)]
        y[(n, *pos, f)] = total
    return y


def _naive_pool(x, op, kind: str) -> np.ndarray:
    """Max of the real cells, or their sum over the pool size or over their count."""
    out_size, windows = _naive_windows(x.shape, op.pool, op.strides, op.padding)
    y = np.zeros((x.shape[0], *out_size, x.shape[-1]))
    for (n, pos, cells), c in itertools.product(windows, range(x.shape[-1])):
        values = [x[(n, *src, c)] for _, src in cells]
        if kind == "max":
            y[(n, *pos, c)] = max(values)
        else:
            divisor = math.prod(op.pool) if op.count_include_pad else len(values)
            y[(n, *pos, c)] = sum(values) / divisor
    return y


# --- registry and interface -------------------------------------------------------------------


def test_every_op_class_has_a_kernel():
    """One kernel per op class, a join's among the joins."""
    assert not set(KERNELS) & set(JOINS)
    assert set(KERNELS) | set(JOINS) == set(ir.OP_CLASSES)


def test_registering_a_second_kernel_is_an_error():
    with pytest.raises(ValueError, match="reference kernel for Dense registered twice"):
        register(ir.Dense)(lambda op, x, ctx: x)


def test_outputs_keys_dtype_and_weights_untouched():
    spec = _spec(
        "[6, 6, 3]", "- conv2d: {filters: 4, norm: batch, activation: relu}\n- flatten\n- dense: 3"
    )
    w = init_weights(spec, 0)
    before = {k: v.copy() for k, v in w.items()}
    x = reference.init_batch(spec, 3, 0).astype(np.float32)
    out, new = reference.forward(spec, w, x, train=True)
    assert list(out) == [op.name for op in spec.ops] + ["output"]
    assert out["output"] is out[spec.ops[-1].name]
    assert all(v.dtype == np.float64 for v in [*out.values(), *new.values()])
    assert set(new) == set(w)
    assert all(np.array_equal(w[k], before[k]) for k in w)


def test_eval_leaves_state_unchanged():
    spec = _spec("[6, 6, 3]", "- conv2d: {filters: 4, norm: batch}")
    _, w, _, new = _run(spec, train=False)
    assert all(np.array_equal(new[k], w[k]) for k in w)


def test_wrong_input_shape_is_refused():
    spec = _spec("[6, 6, 3]", "- flatten")
    with pytest.raises(ValueError, match="expects"):
        reference.forward(spec, {}, np.zeros((2, 6, 3)), train=False)


def test_init_batch_is_deterministic_and_typed():
    spec32, spec64 = _spec("[5, 4]", "- flatten", "float32"), _spec("[5, 4]", "- flatten")
    a, b = reference.init_batch(spec32, 3, 7), reference.init_batch(spec32, 3, 7)
    assert a.shape == (3, 5, 4) and a.dtype == np.float32 and np.array_equal(a, b)
    assert reference.init_batch(spec64, 3, 7).dtype == np.float64
    assert not np.array_equal(a, reference.init_batch(spec32, 3, 8))
    big = reference.init_batch(spec64, 500, 0)
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1.0) < 0.05


# --- convolutions and pools -------------------------------------------------------------------

# fmt: off
CONV_CASES = [
    pytest.param("[5, 6, 3]", "conv2d: {filters: 4, kernel: 3}", id="conv2d_valid"),
    pytest.param("[7, 6, 2]", "conv2d: {filters: 3, kernel: [3, 2], strides: [2, 3], padding: [[0, 2], [1, 0]]}", id="conv2d_stride_asym_pad"),
    pytest.param("[7, 7, 2]", "conv2d: {filters: 2, kernel: 3, dilation: [2, 1], padding: same}", id="conv2d_dilation"),
    pytest.param("[5, 5, 4]", "conv2d: {filters: 6, kernel: [2, 3], groups: 2, strides: 2, padding: 1}", id="conv2d_groups"),
    pytest.param("[5, 4, 3]", "conv2d: {filters: 3, kernel: 3, groups: 3, padding: same, use_bias: false}", id="conv2d_depthwise"),
    pytest.param("[6, 5, 2]", "conv2d: {filters: 2, kernel: 2, strides: 2, padding: same}", id="conv2d_same_even_kernel"),
    pytest.param("[9, 3]", "conv1d: {filters: 2, kernel: 3}", id="conv1d_valid"),
    pytest.param("[11, 4]", "conv1d: {filters: 6, kernel: 3, strides: 2, dilation: 2, groups: 2, padding: [[2, 1]]}", id="conv1d_stride_dilation_groups"),
    pytest.param("[8, 2]", "conv1d: {filters: 3, kernel: 4, strides: 2, padding: same}", id="conv1d_same_s2"),
]
# fmt: on


@pytest.mark.parametrize(("shape", "layer"), CONV_CASES)
def test_conv_matches_naive_loops(shape, layer):
    spec = _spec(shape, "- " + layer)
    op = spec.ops[0]
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, _ = _run(spec, weights=w)
    expected = _naive_conv(x, w[f"{op.name}.kernel"], w.get(f"{op.name}.bias"), op)
    assert out["output"].shape == expected.shape
    np.testing.assert_allclose(out["output"], expected, rtol=0, atol=1e-12)


# fmt: off
POOL_CASES = [
    pytest.param("[6, 6, 2]", "max_pool2d: 2", "max", id="max2d"),
    pytest.param("[7, 7, 2]", "max_pool2d: {pool: 3, strides: 2, padding: same}", "max", id="max2d_same_odd"),
    pytest.param("[5, 6, 2]", "max_pool2d: {pool: [2, 3], strides: [1, 2], padding: [[1, 0], [0, 2]]}", "max", id="max2d_asym_pad"),
    pytest.param("[9, 3]", "max_pool1d: {pool: 3, strides: 2, padding: 1}", "max", id="max1d"),
    pytest.param("[6, 6, 2]", "avg_pool2d: 2", "avg", id="avg2d"),
    pytest.param("[6, 5, 2]", "avg_pool2d: {pool: 3, strides: 1, padding: 1}", "avg", id="avg2d_exclude_pad"),
    pytest.param("[6, 5, 2]", "avg_pool2d: {pool: 3, strides: 2, padding: 1, count_include_pad: true}", "avg", id="avg2d_include_pad"),
    pytest.param("[8, 8, 1]", "avg_pool2d: {pool: 3, strides: 2, padding: same}", "avg", id="avg2d_same_even"),
    pytest.param("[7, 2]", "avg_pool1d: {pool: 2, padding: [[1, 1]], count_include_pad: true}", "avg", id="avg1d_include_pad"),
    pytest.param("[7, 2]", "avg_pool1d: {pool: 3, strides: 2, padding: same}", "avg", id="avg1d_exclude_pad"),
]
# fmt: on


@pytest.mark.parametrize(("shape", "layer", "kind"), POOL_CASES)
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["mixed", "negative"])
def test_pool_matches_naive_loops(shape, layer, kind, sign):
    # All-negative inputs: a zero-padded max pool would let the padding win.
    spec = _spec(shape, "- " + layer)
    x = reference.init_batch(spec, 2, 3).astype(np.float64)
    x = x if sign > 0 else -np.abs(x) - 1.0
    out, _ = reference.forward(spec, {}, x, train=False)
    expected = _naive_pool(x, spec.ops[0], kind)
    assert out["output"].shape == expected.shape
    np.testing.assert_allclose(out["output"], expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize(("shape", "layer", "reduce"), [
    ("[5, 4, 3]", "global_avg_pool", statistics.fmean),
    ("[5, 4, 3]", "global_max_pool", max),
    ("[7, 2]", "global_avg_pool", statistics.fmean),
    ("[7, 2]", "global_max_pool", max),
])  # fmt: skip
def test_global_pools(shape, layer, reduce):
    spec = _spec(shape, "- " + layer)
    x, _, out, _ = _run(spec, n=3)
    assert out["output"].shape == (3, x.shape[-1])
    for n, c in itertools.product(range(3), range(x.shape[-1])):
        assert out["output"][n, c] == pytest.approx(
            reduce(x[n, ..., c].ravel().tolist()), abs=1e-14
        )


def test_conv_is_fast():
    spec = _spec("[32, 32, 64]", "- conv2d: {filters: 64, kernel: 3, padding: same}")
    w = init_weights(spec, 0)
    x = reference.init_batch(spec, 4, 0)
    reference.forward(spec, w, x, train=False)
    start = time.perf_counter()
    reference.forward(spec, w, x, train=False)
    assert time.perf_counter() - start < 1.0


# --- normalizations ---------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "norm"), [
    ("[5, 4, 3]", "{momentum: 0.2}"),
    ("[5, 4, 3]", "{momentum: 0.3, running_var: biased, epsilon: 0.001}"),
    ("[7, 2]", "{center: false, running_var: unbiased}"),
    ("[6]", "{scale: false, running_var: biased}"),
])  # fmt: skip
def test_batch_norm_train_statistics_and_running_update(shape, norm):
    spec = _spec(shape, f"- batch_norm: {norm}")
    op = spec.ops[0]
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, new = _run(spec, train=True, n=4, weights=w)
    scale = w.get(f"{op.name}.scale", np.ones(x.shape[-1]))
    shift = w.get(f"{op.name}.shift", np.zeros(x.shape[-1]))
    y = out["output"]
    for c in range(x.shape[-1]):
        values = x[..., c].ravel().tolist()
        mean, biased, unbiased = (
            statistics.fmean(values),
            statistics.pvariance(values),
            statistics.variance(values),
        )
        # Normalized with the biased batch variance: mean = shift, std = scale*sqrt(v/(v+eps)).
        assert y[..., c].mean() == pytest.approx(shift[c], abs=1e-12)
        expected_std = scale[c] * math.sqrt(biased / (biased + op.epsilon))
        assert y[..., c].std() == pytest.approx(expected_std, rel=1e-12)
        stored = unbiased if op.running_var == "unbiased" else biased
        m = op.momentum
        assert new[f"{op.name}.mean"][c] == pytest.approx(
            (1 - m) * w[f"{op.name}.mean"][c] + m * mean, rel=1e-13
        )
        assert new[f"{op.name}.var"][c] == pytest.approx(
            (1 - m) * w[f"{op.name}.var"][c] + m * stored, rel=1e-13
        )


def test_batch_norm_eval_uses_running_statistics():
    spec = _spec("[3, 3, 2]", "- batch_norm: {epsilon: 0.01}")
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, _ = _run(spec, weights=w)
    n = "batch_norm_1"
    for index in [(0, 0, 0, 0), (1, 2, 1, 1)]:
        c = index[-1]
        expected = (x[index] - w[f"{n}.mean"][c]) / math.sqrt(w[f"{n}.var"][c] + 0.01)
        assert out["output"][index] == pytest.approx(
            expected * w[f"{n}.scale"][c] + w[f"{n}.shift"][c], rel=1e-13
        )


def test_batch_norm_unbiased_needs_two_values():
    spec = _spec("[3]", "- batch_norm")
    with pytest.raises(ValueError, match="more than one value"):
        _run(spec, train=True, n=1)


def test_nested_batch_norm_state_is_updated():
    spec = _spec("[6, 6, 3]", "- residual_block: {filters: 4, strides: 2, norm: batch}")
    _, w, _, new = _run(spec, train=True)
    keys = [k for k in w if k.endswith((".mean", ".var"))]
    assert len(keys) >= 6
    assert all(not np.allclose(new[k], w[k]) for k in keys)


def _per_slice(x, slices, eps):
    """Normalize ``x`` slice by slice with numpy's own mean and variance of each slice."""
    y = np.empty_like(x)
    for s in slices:
        values = x[s]
        y[s] = (values - values.mean()) / math.sqrt(values.var() + eps)
    return y


def _layer_slices(x, groups):
    return [(*pos, slice(None)) for pos in np.ndindex(*x.shape[:-1])]


def _group_slices(x, groups):
    size = x.shape[-1] // groups
    return [
        (n, Ellipsis, slice(g * size, (g + 1) * size))
        for n in range(x.shape[0])
        for g in range(groups)
    ]


def _instance_slices(x, groups):
    return [(n, Ellipsis, slice(c, c + 1)) for n in range(x.shape[0]) for c in range(x.shape[-1])]


@pytest.mark.parametrize(("shape", "layer", "slices", "groups"), [
    ("[4, 3, 6]", "layer_norm: {epsilon: 0.001}", _layer_slices, 0),
    ("[5]", "layer_norm: {center: false}", _layer_slices, 0),
    ("[4, 3, 6]", "group_norm: {groups: 3}", _group_slices, 3),
    ("[7, 4]", "group_norm: {groups: 2, scale: false}", _group_slices, 2),
    ("[4, 3, 6]", "instance_norm", _instance_slices, 0),
    ("[7, 4]", "instance_norm: {epsilon: 0.1}", _instance_slices, 0),
])  # fmt: skip
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_norms_match_per_slice_formulas(shape, layer, slices, groups, train):
    spec = _spec(shape, "- " + layer)
    op = spec.ops[0]
    w = _randomize(spec, init_weights(spec, 0))
    # A large offset: an E[x^2] - E[x]^2 variance would lose about 8 of its 16 digits.
    x = reference.init_batch(spec, 3, 1).astype(np.float64) + 1e4
    out, _ = reference.forward(spec, w, x, train=train)
    expected = _per_slice(x, slices(x, groups), op.epsilon)
    expected = expected * w.get(f"{op.name}.scale", 1.0) + w.get(f"{op.name}.shift", 0.0)
    np.testing.assert_allclose(out["output"], expected, rtol=0, atol=1e-11)


def test_rms_norm_formula():
    spec = _spec("[3, 5]", "- rms_norm: {epsilon: 0.01}")
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, _ = _run(spec, weights=w)
    for n, i in itertools.product(range(2), range(3)):
        row = x[n, i]
        rms = math.sqrt(sum(v * v for v in row) / len(row) + 0.01)
        np.testing.assert_allclose(
            out["output"][n, i], row / rms * w["rms_norm_1.scale"], atol=1e-14
        )


def test_standardize_and_rescale():
    fixed = "{kind: fixed, mean: [1.0, -2.0], std: [2.0, 0.5]}"
    spec = _spec("[3, 2]", "- flatten", normalize=fixed)
    x, _, out, _ = _run(spec)
    assert out["input_norm"][1, 2, 0] == pytest.approx((x[1, 2, 0] - 1.0) / 2.0, rel=1e-15)
    assert out["input_norm"][0, 1, 1] == pytest.approx((x[0, 1, 1] + 2.0) / 0.5, rel=1e-15)
    spec = _spec("[3, 2]", "- flatten", normalize="{kind: rescale, scale: 0.25, offset: -1.0}")
    x, _, out, _ = _run(spec)
    np.testing.assert_allclose(out["input_norm"], x * 0.25 - 1.0, rtol=1e-15)


def test_adapted_standardize_reads_its_state_from_the_weights():
    spec = _spec("[4, 2]", "- flatten", normalize="standardize")
    w = init_weights(spec, 0)
    w["input_norm.mean"], w["input_norm.std"] = np.array([0.5, 3.0]), np.array([4.0, 0.25])
    x, _, out, _ = _run(spec, weights=w)
    np.testing.assert_allclose(out["input_norm"], (x - [0.5, 3.0]) / [4.0, 0.25], rtol=1e-15)


# --- activations ------------------------------------------------------------------------------


def _erf_series(x: float) -> float:
    """erf by its Maclaurin series in 60-digit decimal arithmetic (terms of both signs grow to
    about exp(x^2) before they shrink, so the extra digits absorb the cancellation)."""
    with decimal.localcontext() as context:
        context.prec = 60
        v, term, total, n = decimal.Decimal(x), decimal.Decimal(x), decimal.Decimal(0), 0
        while n < 10 or abs(term) > decimal.Decimal(10) ** -40:
            total += term / (2 * n + 1)
            n += 1
            term *= -v * v / n
        pi = decimal.Decimal("3.14159265358979323846264338327950288419716939937510582097494")
        return float(2 * total / pi.sqrt())


def test_erf_is_accurate():
    from normspec.reference.activations import erf

    points = np.concatenate([np.linspace(-5.0, 5.0, 81), [1e-8, -0.3, 0.477, 2.2, 3.7]])
    expected = np.array([_erf_series(float(p)) for p in points])
    assert np.max(np.abs(erf(points) - expected)) <= 1e-15


def _activation(function: str, values, **extra) -> np.ndarray:
    options = ", ".join(f"{k}: {v}" for k, v in extra.items())
    layer = f"- activation: {{function: {function}{', ' + options if options else ''}}}"
    spec = _spec(f"[{len(values)}]", layer)
    out, _ = reference.forward(spec, {}, np.array([values], dtype=np.float64), train=False)
    return out["output"][0]


def _phi(v: float) -> float:
    return 0.5 * (1.0 + _erf_series(v / math.sqrt(2.0)))


def test_gelu_exact_and_tanh():
    # gelu(x) = x * Phi(x), the standard normal CDF; Phi(1) = 0.8413447460685429.
    exact = _activation("gelu", [1.0, -1.0, 0.0, 3.0, -2.5])
    assert exact[0] == pytest.approx(0.8413447460685429, abs=1e-15)
    expected = [v * _phi(v) for v in [1.0, -1.0, 0.0, 3.0, -2.5]]
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-15)
    approx = _activation("gelu", [1.0, -1.0], approximate="tanh")
    inner = math.sqrt(2 / math.pi) * (1.0 + 0.044715)
    np.testing.assert_allclose(
        approx, [0.5 * (1 + math.tanh(inner)), -0.5 * (1 - math.tanh(inner))], rtol=1e-15
    )
    assert 1e-5 < abs(approx[0] - exact[0]) < 1e-3  # the two forms are close but not equal


VALUES = [-3.0, -0.5, 0.0, 0.25, 2.0]
SELU_A, SELU_L = 1.6732632423543772, 1.0507009873554805


@pytest.mark.parametrize(("function", "extra", "scalar"), [
    ("relu", {}, lambda v: max(v, 0.0)),
    ("elu", {"alpha": 0.7}, lambda v: v if v > 0 else 0.7 * (math.exp(v) - 1)),
    ("selu", {}, lambda v: SELU_L * (v if v > 0 else SELU_A * (math.exp(v) - 1))),
    ("leaky_relu", {"negative_slope": 0.3}, lambda v: v if v >= 0 else 0.3 * v),
    ("silu", {}, lambda v: v / (1 + math.exp(-v))),
    ("tanh", {}, math.tanh),
    ("sigmoid", {}, lambda v: 1 / (1 + math.exp(-v))),
])  # fmt: skip
def test_elementwise_activations(function, extra, scalar):
    np.testing.assert_allclose(
        _activation(function, VALUES, **extra), [scalar(v) for v in VALUES], rtol=1e-14, atol=1e-16
    )


def test_sigmoid_and_softmax_are_stable_at_extremes():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert list(_activation("sigmoid", [-1000.0, 1000.0])) == [0.0, 1.0]
        np.testing.assert_allclose(
            _activation("softmax", [1000.0, 1000.0, -1000.0]), [0.5, 0.5, 0.0]
        )


def test_softmax_over_channels():
    spec = _spec("[3, 4, 5]", "- activation: softmax")
    x, _, out, _ = _run(spec)
    y = out["output"]
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-15)
    row = np.exp(x[1, 2, 3]) / np.exp(x[1, 2, 3]).sum()
    np.testing.assert_allclose(y[1, 2, 3], row, rtol=1e-14)


# --- shapes, dense, dropout, residual ---------------------------------------------------------


def test_flatten_is_channels_last():
    spec = _spec("[2, 3, 4]", "- flatten")
    x = np.arange(2 * 24, dtype=np.float64).reshape(2, 2, 3, 4)
    out, _ = reference.forward(spec, {}, x, train=False)
    assert out["output"].shape == (2, 24)
    assert out["output"][1, 1 * 12 + 2 * 4 + 3] == x[1, 1, 2, 3]  # (h, w, c) -> h*W*C + w*C + c
    assert out["output"][0, 5] == x[0, 0, 1, 1]


def test_reshape_keeps_channels_last_order():
    spec = _spec("[4, 4, 3]", "- reshape: [16, 3]")
    x = np.arange(48, dtype=np.float64).reshape(1, 4, 4, 3)
    out, _ = reference.forward(spec, {}, x, train=False)
    assert out["output"][0, 4 * 2 + 3, 1] == x[0, 2, 3, 1]


def test_dense_matches_sum():
    spec = _spec("[4]", "- dense: 3")
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, _ = _run(spec, weights=w)
    kernel, bias = w["dense_1.kernel"], w["dense_1.bias"]
    for n, j in itertools.product(range(2), range(3)):
        expected = sum(x[n, i] * kernel[i, j] for i in range(4)) + bias[j]
        assert out["output"][n, j] == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("train", [False, True])
def test_dropout_is_identity(train):
    spec = _spec("[5]", "- dropout: 0.5")
    x, _, out, _ = _run(spec, train=train)
    assert np.array_equal(out["output"], x)


@pytest.mark.parametrize(
    ("shortcut", "projected"), [("[]", False), ("[conv2d: {filters: 2, kernel: 1}]", True)]
)
def test_residual_is_body_plus_shortcut(shortcut, projected):
    spec = _spec(
        "[4, 4, 2]",
        f"- residual: {{body: [conv2d: {{filters: 2, padding: same}}], shortcut: {shortcut}}}",
    )
    w = _randomize(spec, init_weights(spec, 0))
    x, _, out, _ = _run(spec, weights=w)
    convs = [op for op in spec.ops if isinstance(op, ir.Conv2D)]

    def conv(op):
        return _naive_conv(x, w[f"{op.name}.kernel"], w[f"{op.name}.bias"], op)

    expected = conv(convs[0]) + (conv(convs[1]) if projected else x)
    np.testing.assert_allclose(out["output"], expected, atol=1e-12)
