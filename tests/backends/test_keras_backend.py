"""The Keras backend: emitted source, layer names, weights, adapt and training steps. Every op
and option against the numpy reference (eval and train mode, float32 and float64) is in
test_conformance.py."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.parity import parity_weights, with_dtype
from parity_cases import make_spec, max_error

pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from normspec.backends.keras import BACKEND  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
EVEN, ODD, FLAT = "[8, 8, 3]", "[7, 7, 3]", "[6]"  # FLAT: used by other Keras tests

ALL_WEIGHTS = """\
- conv2d: {filters: 4, kernel: 3, norm: {kind: batch, running_var: biased}}
- conv2d: {filters: 4, kernel: 2, strides: 2, dilation: 2, padding: 1, norm: none}
- conv2d: {filters: 4, kernel: 1, groups: 2, norm: {kind: group, groups: 2}, activation: gelu}
- layer_norm
- max_pool2d: {pool: 2, padding: 1, strides: 1}
- avg_pool2d: {pool: 3, strides: 2, padding: 1}
- rms_norm: {scale: false}
- instance_norm
- flatten
- dense: {units: 5, norm: batch, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- rms_norm
- dense: {units: 3, activation: {function: leaky_relu, negative_slope: 0.1}, norm: none}"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_round_trip_is_the_identity(dtype: str) -> None:
    spec = make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
    model = BACKEND.build(spec)
    assert {v.dtype for v in model.weights} == {dtype}
    weights = parity_weights(spec, seed=4)
    BACKEND.set_weights(model, spec, weights)
    back = BACKEND.get_weights(model, spec)
    assert back.keys() == weights.keys()
    for key, value in weights.items():
        assert back[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back[key], value, err_msg=key)


def test_fresh_weights_follow_the_spec_initializers() -> None:
    layers = """\
- dense: {units: 400, kernel_init: {distribution: uniform, low: -0.5, high: 0.25}, bias_init: {distribution: constant, value: 0.3}}
- dense: {units: 400, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- dense: {units: 400, kernel_init: he_normal, bias_init: {distribution: normal, mean: 2.0, std: 0.5}}"""
    spec = make_spec("[50]", layers)
    source = BACKEND.emit(spec)
    assert "BoundedTruncatedNormal(" in source
    assert 'VarianceScaling(\n            scale=2.0,\n            mode="fan_in"' in source
    w = BACKEND.get_weights(BACKEND.build(spec), spec)
    k1, k2, k3 = (w[f"dense_{i}.kernel"] for i in (1, 2, 3))
    assert -0.5 <= k1.min() < -0.45 and 0.2 < k1.max() <= 0.25
    np.testing.assert_array_equal(w["dense_1.bias"], np.full(400, 0.3, np.float32))
    assert 0.0 <= k2.min() < 0.01 and 0.49 < k2.max() <= 0.5
    std = spec.ops[2].kernel_init.std
    assert np.abs(k3).max() <= 2 * std * (1 + 1e-6) and abs(k3.std() / std - 0.88) < 0.05
    assert abs(w["dense_3.bias"].mean() - 2.0) < 0.15


def test_standardize_adapt_fits_channel_statistics() -> None:
    spec = make_spec(EVEN, "- flatten", "{kind: standardize, epsilon: 0.5}", "float64")
    model = BACKEND.build(spec)
    data = np.random.default_rng(11).normal(size=(6, 8, 8, 3)) * np.array([3.0, 1.0, 0.1])
    model.get_layer("input_norm").adapt(data)
    w = BACKEND.get_weights(model, spec)
    np.testing.assert_allclose(w["input_norm.mean"], data.mean(axis=(0, 1, 2)), atol=1e-14)
    std = np.maximum(data.std(axis=(0, 1, 2)), 0.5)
    np.testing.assert_allclose(w["input_norm.std"], std, atol=1e-14)
    assert w["input_norm.std"][2] == 0.5


def test_layer_names_follow_the_spec_and_never_clash() -> None:
    layers = (
        "- residual: {name: block, body: [{conv2d: {filters: 3, padding: 1, strides: 2, name: c}}],"
        " shortcut: [{conv2d: {filters: 3, kernel: 1, strides: 2, name: c_pad}}]}\n"
        "- flatten\n- dense: {units: 2, name: block_add}"
    )
    spec = make_spec(EVEN, layers)
    model = BACKEND.build(spec)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert {"c", "c_pad", "c_pad2", "block_add", "block_add2"} <= set(names)
    outputs = BACKEND.forward(model, spec, reference.init_batch(spec, 2, 0), train=False)
    assert outputs["block"].shape == (2, 4, 4, 3)


def _all_sources() -> dict[str, str]:
    sources = {path.stem: BACKEND.emit(normspec.load(path)) for path in SPECS}
    for dtype in ("float32", "float64"):
        sources[f"helpers_{dtype}"] = BACKEND.emit(
            make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
        )
    sources["long_name"] = BACKEND.emit(
        normspec.load(
            "normspec: 1\nname: " + "n" * 64 + "\ninput: {shape: [4]}\n"
            "layers:\n  - dense: {units: 2, name: " + "d" * 64 + ", kernel_init: "
            "{distribution: truncated_normal, mean: 0.0, std: 0.123456789, low: -0.1234, high: 0.3}}\n"
        )
    )
    return sources


def test_emitted_source_is_deterministic_and_ruff_clean() -> None:
    sources = _all_sources()
    for path in SPECS:
        spec = normspec.load(path)
        again = BACKEND.emit(normspec.load(path))  # speed: benchmarks/bench_emit.py
        assert again == sources[path.stem]
        head = sources[path.stem].splitlines()[:3]
        assert normspec.__version__ in head[0] and spec.hash in head[2]
    ruff = Path(sys.executable).parent / "ruff"
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources.items():
            assert "normspec" not in "".join(
                line for line in source.splitlines() if line.startswith(("import", "from"))
            )
            (Path(tmp) / f"{name}.py").write_text(source)
        for config in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):
            for args in (["format", "--check"], ["check", "--select", "E,F,W,I,B,UP,SIM,RUF"]):
                result = subprocess.run(
                    [str(ruff), *args, *config, tmp], capture_output=True, text=True
                )
                assert result.returncode == 0, result.stdout + result.stderr


def test_every_spec_builds_and_matches_the_reference() -> None:
    """The specs of specs/ end to end, in float64, eval and train mode."""
    for path in SPECS:
        spec = with_dtype(normspec.load(path), "float64")
        weights = parity_weights(spec, seed=0)
        x = reference.init_batch(spec, 2, seed=1)
        model = BACKEND.build(spec)
        BACKEND.set_weights(model, spec, weights)
        for train in (False, True):
            expected, _ = reference.forward(spec, weights, x, train=train)
            got = BACKEND.forward(model, spec, x, train=train)["output"]
            assert max_error(got, expected["output"]) <= 1e-10, (path.stem, train)


def test_fit_trains_with_the_shared_batch_order_and_reports_each_epoch() -> None:
    from normspec.run.data import Dataset

    spec = normspec.load(
        "normspec: 1\nname: fit\ninput: {shape: [2]}\nlayers:\n"
        "  - dense: {units: 16, activation: relu, dropout: 0.1}\n"
        "  - dense: {units: 3, activation: softmax}\n"
        "train: {optimizer: {kind: adam, learning_rate: 0.05}}\n"
    )
    rng = np.random.default_rng(12)
    y = rng.integers(0, 3, 90)
    x = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])[y] + rng.normal(0, 0.3, (90, 2))
    data = Dataset("blobs", x[:60], y[:60], x[60:], y[60:])
    model = BACKEND.build(spec)
    BACKEND.set_weights(model, spec, normspec.init_weights(spec, 0))
    before = BACKEND.predict(model, spec, data.x_val)
    rows, batches = [], []
    BACKEND.fit(model, spec, data, epochs=3, batch_size=16, seed=0,
                optimizer=spec.train.optimizer, on_batch_end=batches.append,
                on_epoch_end=lambda epoch, row: rows.append((epoch, row)))  # fmt: skip
    after = BACKEND.predict(model, spec, data.x_val)
    assert [epoch for epoch, _ in rows] == [0, 1, 2] and batches == [0, 1, 2, 3] * 3
    assert rows[-1][1]["loss"] < rows[0][1]["loss"] and rows[-1][1]["accuracy"] > 0.9
    assert after.shape == before.shape == (30, 3)
    assert np.mean(after.argmax(1) == data.y_val) > np.mean(before.argmax(1) == data.y_val)


def test_parity_forward_runs_without_tf32_and_restores_the_setting() -> None:
    import tensorflow as tf

    from normspec.backends.keras.runtime import full_precision

    experimental = tf.config.experimental
    before = experimental.tensor_float_32_execution_enabled()
    experimental.enable_tensor_float_32_execution(True)
    try:
        with full_precision():
            assert not experimental.tensor_float_32_execution_enabled()
        assert experimental.tensor_float_32_execution_enabled()
    finally:
        experimental.enable_tensor_float_32_execution(before)
