"""The Flax NNX backend: emitted source, names, weights, dtypes, modes and training steps. Every
op and option against the numpy reference (eval and train mode, float32 and float64) is in
test_conformance.py."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import normspec
from conformance_cases import CASES
from normspec import reference
from normspec.parity import parity_weights, with_dtype
from parity_cases import make_spec, max_error

pytest.importorskip("flax")
pytestmark = pytest.mark.flax

from normspec.backends.flax import BACKEND  # noqa: E402
from normspec.backends.flax.dialect import MAX_NAME, MODULE_ATTRIBUTES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
EVEN, ODD, FLAT = "[8, 8, 3]", "[7, 7, 3]", "[6]"

ALL_WEIGHTS = """\
- conv2d: {filters: 4, kernel: 3, norm: {kind: batch, running_var: biased}}
- conv2d: {filters: 4, kernel: 1, groups: 2, norm: {kind: group, groups: 2}, activation: gelu}
- batch_norm
- layer_norm
- max_pool2d: {pool: 2, padding: 1, strides: 1}
- avg_pool2d: {pool: 3, strides: 2, padding: 1}
- rms_norm: {scale: false}
- instance_norm
- flatten
- dense: {units: 5, norm: batch, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- rms_norm
- dense: {units: 3, activation: {function: leaky_relu, negative_slope: 0.1}, norm: none}"""


def _float_leaves(model) -> dict[str, np.dtype]:
    """Dtype of every floating-point array of the model's state, by path."""
    import jax.numpy as jnp
    from flax import nnx

    flat = nnx.to_flat_state(nnx.state(model))
    return {
        ".".join(map(str, path)): np.dtype(v[...].dtype)
        for path, v in flat
        if jnp.issubdtype(v[...].dtype, jnp.floating)
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_round_trip_is_the_identity_and_keeps_the_dtype(dtype: str) -> None:
    spec = make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
    model = BACKEND.build(spec)
    floats = _float_leaves(model)
    assert set(floats.values()) == {np.dtype(dtype)}, floats
    assert any(k.endswith(".var") for k in floats)  # batch-norm statistics included
    weights = parity_weights(spec, seed=4)
    BACKEND.set_weights(model, spec, weights)
    back = BACKEND.get_weights(model, spec)
    assert back.keys() == weights.keys()
    for key, value in weights.items():
        assert back[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    x = reference.init_batch(spec, 2, seed=5)
    BACKEND.forward(model, spec, x, train=True)  # running statistics keep their dtype
    assert set(_float_leaves(model).values()) == {np.dtype(dtype)}


def test_fresh_weights_follow_the_spec_initializers() -> None:
    layers = """\
- dense: {units: 400, kernel_init: {distribution: uniform, low: -0.5, high: 0.25}, bias_init: {distribution: constant, value: 0.3}}
- dense: {units: 400, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- dense: {units: 400, kernel_init: he_normal, bias_init: {distribution: normal, mean: 2.0, std: 0.5}}"""
    spec = make_spec("[50]", layers)
    w = BACKEND.get_weights(BACKEND.build(spec), spec)
    k1, k2, k3 = (w[f"dense_{i}.kernel"] for i in (1, 2, 3))
    assert -0.5 <= k1.min() < -0.45 and 0.2 < k1.max() <= 0.25
    np.testing.assert_array_equal(w["dense_1.bias"], np.full(400, 0.3, np.float32))
    assert 0.0 <= k2.min() < 0.01 and 0.49 < k2.max() <= 0.5
    init = spec.ops[2].kernel_init
    assert init.low <= k3.min() and k3.max() <= init.high
    assert abs(k3.std() / init.std - 0.88) < 0.05  # a normal truncated at two std
    assert abs(w["dense_3.bias"].mean() - 2.0) < 0.15 and abs(w["dense_3.bias"].std() - 0.5) < 0.1


def test_train_and_eval_switch_the_emitted_model() -> None:
    """The model is built in training mode; ``.eval()`` and ``.train()`` switch batch norm and
    dropout, and the runtime leaves the model's own mode as it found it."""
    import jax.numpy as jnp

    spec = make_spec(FLAT, "- batch_norm: {momentum: 0.5}\n- dropout: 0.5")
    model = BACKEND.build(spec)
    weights = parity_weights(spec, seed=3)
    BACKEND.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 8, seed=4)
    train_out = np.asarray(model(jnp.asarray(x)))
    assert (train_out == 0).any()  # dropout active
    moved = BACKEND.get_weights(model, spec)["batch_norm_1.mean"]
    assert not np.allclose(moved, weights["batch_norm_1.mean"])
    model.eval()
    before = BACKEND.get_weights(model, spec)
    eval_out = np.asarray(model(jnp.asarray(x)))
    expected, _ = reference.forward(spec, before, x, train=False)
    assert max_error(eval_out, expected["output"]) <= 1e-5
    BACKEND.forward(model, spec, x, train=True)
    assert model.batch_norm_1.use_running_average and model.dropout_1.deterministic
    model.train()
    assert not model.batch_norm_1.use_running_average and not model.dropout_1.deterministic


def test_long_and_reserved_names_get_short_attributes() -> None:
    long = "d" * 64
    layers = (
        f"- conv2d: {{filters: 2, name: {long}, norm: batch, activation: leaky_relu, dropout: 0.1}}\n"
        "- flatten\n- dense: {units: 2, name: sow}\n- activation: {function: relu, name: perturb}"
    )
    spec = make_spec(EVEN, layers)
    source = BACKEND.emit(spec)
    assert f"self.{long[: MAX_NAME - 8]}_layer = nnx.Conv(" in source
    assert "self.sow_layer = nnx.Linear(" in source
    assert 'self.sow(nnx.Intermediate, "perturb_layer", x)' in source
    model = BACKEND.build(spec)
    weights = parity_weights(spec, seed=1)
    BACKEND.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 2, seed=2)
    expected, _ = reference.forward(spec, weights, x, train=False)
    outputs = BACKEND.forward(model, spec, x, train=False)
    assert set(outputs) == set(expected)
    for name in (long, "sow", "perturb"):
        assert max_error(outputs[name], expected[name]) <= 1e-5


def test_reserved_attribute_list_is_complete() -> None:
    from flax import nnx

    public = {name for name in dir(nnx.Module) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES


def _all_sources() -> dict[str, str]:
    sources = {path.stem: BACKEND.emit(normspec.load(path)) for path in SPECS}
    for dtype in ("float32", "float64"):
        spec = make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
        sources[f"helpers_{dtype}"] = BACKEND.emit(spec)
    for case in CASES:
        sources[f"case_{case.id}"] = BACKEND.emit(case.spec)
    long = "n" * 64
    sources["long_names"] = BACKEND.emit(
        normspec.load(
            f"normspec: 1\nname: {long}\ninput: {{shape: [8, 8, 3]}}\nlayers:\n"
            f"  - conv2d: {{filters: 2, name: {'c' * 64}, norm: batch, activation: leaky_relu,"
            " dropout: 0.1, kernel_init: {distribution: truncated_normal, mean: 0.0, std: 0.123456789,"
            " low: -0.1234, high: 0.3}}\n"
            f"  - avg_pool2d: {{pool: 3, strides: 2, padding: 1, name: {'a' * 54}}}\n"
            f"  - residual: {{name: {'r' * 54}, body: [{{conv2d: {{filters: 2, padding: 1}}}}]}}\n"
            f"  - flatten: {{name: {'f' * 40}}}\n"
            f"  - dense: {{units: 2, name: {'d' * 54}}}\n"
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
            imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
            assert imports in (
                ["import jax", "import jax.numpy as jnp", "from flax import nnx"],
                ["import math", "import jax", "import jax.numpy as jnp", "from flax import nnx"],
            )
            (Path(tmp) / f"{name}.py").write_text(source)
        for config in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):
            for args in (["format", "--check"], ["check", "--select", "E,F,W,I,B,UP,SIM,RUF"]):
                result = subprocess.run(
                    [str(ruff), *args, *config, tmp], capture_output=True, text=True
                )
                assert result.returncode == 0, result.stdout + result.stderr


def test_float64_module_works_standalone(tmp_path: Path) -> None:
    """A fresh interpreter imports the emitted float64 file alone (it turns on JAX's 64-bit
    mode itself) and gets float64 parameters, running statistics and outputs."""
    layers = "- conv2d: {filters: 2, norm: {kind: batch, running_var: biased}}\n- batch_norm"
    spec = make_spec(ODD, layers, "standardize", "float64")
    (tmp_path / "model64.py").write_text(BACKEND.emit(spec))
    script = textwrap.dedent(
        """
        import jax, numpy as np
        from flax import nnx
        import model64
        model = model64.Case(rngs=nnx.Rngs(0))
        model.input_norm.adapt(np.arange(2 * 7 * 7 * 3.0).reshape(2, 7, 7, 3))
        y = model(np.ones((2, 7, 7, 3)))
        leaves = jax.tree.leaves(nnx.state(model, nnx.Param, nnx.BatchStat))
        print(y.dtype, sorted({str(v.dtype) for v in leaves}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "float64 ['float64']"


def test_float32_models_leave_64_bit_mode_alone() -> None:
    """Building, training and running a float32 spec does not flip JAX's process-wide 64-bit
    flag, which would silently turn the user's own ``jnp.zeros(3)`` into float64."""
    script = textwrap.dedent(
        """
        import jax, numpy as np, normspec
        from normspec.backends import get_backend
        spec = normspec.load("specs/digits_cnn.yaml")
        b = get_backend("flax")
        model = b.build(spec)
        b.set_weights(model, spec, normspec.init_weights(spec, seed=0))
        x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
        losses = b.train_steps(model, spec, [(x, np.arange(4))])
        out = b.predict(model, spec, x)
        print(jax.config.jax_enable_x64, out.dtype, np.isfinite(losses).all())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "False float32 True"


@pytest.mark.slow
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
