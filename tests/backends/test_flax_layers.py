"""The custom layers of the emitted Flax module, imported from normspec.backends.flax.layers and
tested directly: the initializers' distributions, BatchNorm and UnbiasedBatchNorm against
``nnx.BatchNorm`` and numpy, Standardize; and how helpers.py copies their source into the
generated file (every definition registered, with what it needs, and working alone there)."""

from __future__ import annotations

import ast
import builtins
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from normspec.backends.flax import helpers
from normspec.backends.named_init import NAMED

pytest.importorskip("flax")
pytestmark = pytest.mark.flax

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx, serialization  # noqa: E402

from normspec.backends.flax.layers import initializers as initializers_module  # noqa: E402
from normspec.backends.flax.layers.blocks import Block  # noqa: E402
from normspec.backends.flax.layers.initializers import (  # noqa: E402
    DTYPE,
    constant,
    normal,
    truncated_normal,
    uniform,
)
from normspec.backends.flax.layers.inputs import InputStatistic, Standardize  # noqa: E402
from normspec.backends.flax.layers.norms import BatchNorm, UnbiasedBatchNorm  # noqa: E402

EMITTED_NAMES = {"jax", "jnp", "nnx", "DTYPE", "PRECISION", "math"}
"""What the generated file defines before the helpers: its imports (``math`` where a named
initializer needs it) and constants."""
MODULES = sorted({helper.module for helper in helpers.HELPERS.values()})


# --- copying the source -------------------------------------------------------------------------


def _top_level(module: str) -> ast.Module:
    return ast.parse((helpers.LAYERS / f"{module}.py").read_text())


def test_every_definition_of_the_layers_modules_is_registered() -> None:
    defined = {
        node.name: module
        for module in MODULES
        for node in _top_level(module).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    assert defined == {name: helper.module for name, helper in helpers.HELPERS.items()}
    files = {p.stem for p in helpers.LAYERS.glob("*.py")} - {"__init__"}
    assert files == set(MODULES)


def test_the_layers_modules_hold_only_what_the_generated_file_gives_them() -> None:
    """Imports and constants of the module are those of the generated file, so code that runs
    here runs there."""
    for module in MODULES:
        for node in _top_level(module).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert ast.unparse(node) in {
                    "import math",
                    "import jax",
                    "import jax.numpy as jnp",
                    "from flax import nnx",
                }
            elif isinstance(node, ast.Assign):
                assert {t.id for t in node.targets if isinstance(t, ast.Name)} <= EMITTED_NAMES
            else:
                assert isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Expr), node


@pytest.mark.parametrize("name", list(helpers.HELPERS))
def test_needs_lists_the_helpers_a_definition_refers_to(name: str) -> None:
    """A definition refers to the generated file's imports and constants, builtins, its own
    locals, and exactly the helpers of its ``needs``."""
    tree = ast.parse(helpers.helper_source(name))
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    free = used - bound - EMITTED_NAMES - set(dir(builtins))
    assert free == set(helpers.HELPERS[name].needs)


@pytest.mark.parametrize("name", list(helpers.HELPERS))
def test_a_definition_is_copied_whole_and_works_alone(name: str) -> None:
    """The copied text is the module's own (from ``def`` or ``class`` to its last line), and
    with what it needs and the generated file's imports it defines the same thing."""
    source = helpers.helper_source(name)
    module_text = (helpers.LAYERS / f"{helpers.HELPERS[name].module}.py").read_text()
    assert f"\n\n\n{source}\n" in module_text
    assert source.startswith(("def ", "class ")) and not source.endswith("\n")
    namespace: dict[str, Any] = {"jax": jax, "jnp": jnp, "nnx": nnx, "DTYPE": jnp.float32}
    namespace["math"] = math
    namespace["__name__"] = "generated"
    text = "\n\n\n".join(helpers.helper_source(h) for h in helpers.closure({name}))
    exec(compile(text, "generated", "exec"), namespace)
    assert callable(namespace[name])
    assert namespace[name].__doc__ == _LAYERS[name].__doc__


def test_decorators_and_trailing_comments_are_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "extra.py").write_text(
        "import jax\n\n\n@jax.jit\n# why\n@jax.named_call\ndef f(x):\n"
        "    return x  # the end\n\n\nclass C:\n    pass\n"
    )
    monkeypatch.setattr(helpers, "LAYERS", tmp_path)
    helpers.definitions.cache_clear()
    try:
        found = helpers.definitions("extra")
    finally:
        helpers.definitions.cache_clear()
    assert found == {
        "f": "@jax.jit\n# why\n@jax.named_call\ndef f(x):\n    return x  # the end",
        "C": "class C:\n    pass",
    }


def test_closure_adds_what_is_needed_in_registry_order() -> None:
    assert helpers.closure({"Standardize", "UnbiasedBatchNorm", "constant"}) == [
        "constant",
        "BatchNorm",
        "UnbiasedBatchNorm",
        "InputStatistic",
        "Standardize",
    ]


_LAYERS: dict[str, Any] = {
    "uniform": uniform,
    "normal": normal,
    "truncated_normal": truncated_normal,
    "constant": constant,
    "BatchNorm": BatchNorm,
    "UnbiasedBatchNorm": UnbiasedBatchNorm,
    "InputStatistic": InputStatistic,
    "Standardize": Standardize,
    **{name: getattr(initializers_module, name) for name in NAMED},
    "Block": Block,
}


# --- initializers -------------------------------------------------------------------------------

DRAW = (1000, 1000)


def draw(init: Any, shape: tuple[int, ...] = DRAW, seed: int = 0, **kwargs: Any) -> np.ndarray:
    value = init(jax.random.key(seed), shape, **kwargs)
    assert value.shape == shape
    return np.asarray(value, np.float64)


def test_initializers_default_to_the_module_dtype_and_honour_dtype() -> None:
    assert DTYPE is jnp.float32
    inits = [uniform(0, 1), normal(0, 1), truncated_normal(0, 1, -1, 1), constant(2.0)]
    for init in inits:
        assert init(jax.random.key(0), (3, 2)).dtype == jnp.float32
        assert init(jax.random.key(0), (3, 2), jnp.bfloat16).dtype == jnp.bfloat16


def test_draws_depend_on_the_key_only() -> None:
    for init in (uniform(-1, 1), normal(0, 1), truncated_normal(0, 1, -1, 1)):
        np.testing.assert_array_equal(draw(init, (50,), seed=1), draw(init, (50,), seed=1))
        assert not np.allclose(draw(init, (50,), seed=1), draw(init, (50,), seed=2))


def test_uniform_stays_within_its_bounds_and_fills_them() -> None:
    low, high = -0.5, 0.25
    x = draw(uniform(low, high))
    assert low <= x.min() < low + 0.001 and high - 0.001 < x.max() <= high
    assert abs(x.mean() - (low + high) / 2) < 0.002
    assert abs(x.std() - (high - low) / math.sqrt(12)) < 0.002
    quartiles = np.quantile(x, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(
        quartiles, low + (high - low) * np.array([0.25, 0.5, 0.75]), atol=0.003
    )


def test_normal_has_its_mean_and_std() -> None:
    x = draw(normal(2.0, 0.5))
    assert abs(x.mean() - 2.0) < 0.003 and abs(x.std() - 0.5) < 0.003
    assert x.min() < 2.0 - 4 * 0.5 and x.max() > 2.0 + 4 * 0.5  # not truncated
    assert abs(np.mean(np.abs(x - 2.0) < 0.5) - 0.6827) < 0.003  # within one std


def _phi(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _cdf(z: float) -> float:
    return (1 + math.erf(z / math.sqrt(2))) / 2


def truncated_moments(mean: float, std: float, low: float, high: float) -> tuple[float, float]:
    """Mean and std of N(mean, std**2) restricted to [low, high]."""
    a, b = (low - mean) / std, (high - mean) / std
    mass = _cdf(b) - _cdf(a)
    shift = (_phi(a) - _phi(b)) / mass
    var = 1 + (a * _phi(a) - b * _phi(b)) / mass - shift**2
    return mean + std * shift, std * math.sqrt(var)


@pytest.mark.parametrize(
    ("mean", "std", "low", "high"),
    [
        (0.1, 0.2, 0.0, 0.5),
        (0.0, 1.0, -2.0, 2.0),
        (0.0, 0.123456789, -1.0, 1.0),
        (1.0, 2.0, 1.5, 4.0),
    ],
    ids=["asymmetric", "two-std", "wide-bounds", "one-sided-of-mean"],
)
def test_truncated_normal_is_truncated_to_its_bounds(
    mean: float, std: float, low: float, high: float
):
    """Bounds are values (not standard deviations); inside them the draw has the moments of
    the truncated normal."""
    x = draw(truncated_normal(mean, std, low, high))
    assert low <= x.min() and x.max() <= high
    for bound, extreme, sign in ((low, x.min(), -1), (high, x.max(), 1)):
        if abs(bound - mean) < 4 * std:  # the draw reaches the bound
            assert abs(extreme - bound) < 0.01 * std
        else:  # a bound far out in the tail leaves the tail as a normal's
            assert sign * (extreme - mean) > 4 * std
    expected_mean, expected_std = truncated_moments(mean, std, low, high)
    assert abs(x.mean() - expected_mean) < 0.003 * std
    assert abs(x.std() - expected_std) < 0.003 * std


def test_constant_fills_every_entry() -> None:
    np.testing.assert_array_equal(draw(constant(0.3), (4, 5)), np.full((4, 5), np.float32(0.3)))


def test_initializers_are_layer_initializers() -> None:
    layer = nnx.Linear(50, 400, kernel_init=uniform(-0.5, 0.25), bias_init=constant(0.3),
                       rngs=nnx.Rngs(0))  # fmt: skip
    kernel = np.asarray(layer.kernel[...])
    assert kernel.shape == (50, 400) and kernel.min() >= -0.5 and kernel.max() <= 0.25
    np.testing.assert_array_equal(np.asarray(layer.bias[...]), np.full(400, np.float32(0.3)))


# --- batch norms --------------------------------------------------------------------------------

CLASSES: dict[str, type[BatchNorm]] = {"biased": BatchNorm, "unbiased": UnbiasedBatchNorm}
SHAPES = {"dense": (6, 3), "conv": (4, 5, 5, 3)}
OPTIONS: dict[str, Any] = {"momentum": 0.7, "epsilon": 1e-3, "use_fast_variance": False}


def batch_norm(kind: str, **options: Any) -> BatchNorm:
    """A layer with non-trivial scale, shift and running statistics."""
    layer = CLASSES[kind](3, **OPTIONS, rngs=nnx.Rngs(0), **options)
    rng = np.random.default_rng(1)
    for name, low, high in (("scale", 0.5, 1.5), ("bias", -1, 1), ("mean", -1, 1), ("var", 0.5, 2)):
        getattr(layer, name).set_value(jnp.asarray(rng.uniform(low, high, 3), jnp.float32))
    return layer


def stock(layer: BatchNorm) -> nnx.BatchNorm:
    """``nnx.BatchNorm`` with the options and (fresh, writable) state of ``layer``."""
    twin = nnx.BatchNorm(3, **OPTIONS, rngs=nnx.Rngs(0))
    nnx.update(twin, nnx.state(layer))
    return twin


def batch(shape: tuple[int, ...], seed: int = 2) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).normal(1.0, 2.0, shape), jnp.float32)


def stats(layer: nnx.Module) -> tuple[np.ndarray, np.ndarray]:
    return np.array(layer.mean[...]), np.array(layer.var[...])


def numpy_batch_norm(
    layer: BatchNorm, x: np.ndarray, mean: np.ndarray, var: np.ndarray
) -> np.ndarray:
    scale, bias = np.array(layer.scale[...]), np.array(layer.bias[...])
    return (x - mean) / np.sqrt(var + 1e-3) * scale + bias


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_training_normalizes_with_the_biased_batch_statistics(kind: str, shape: str) -> None:
    """Both layers normalize with the batch mean and biased variance over every axis but the
    last; the running mean moves by ``1 - momentum`` towards the batch mean, the running
    variance towards the biased or (``UnbiasedBatchNorm``) the unbiased batch variance."""
    x = batch(SHAPES[shape])
    layer = batch_norm(kind)
    mean, var = stats(layer)
    flat = np.array(x, np.float64).reshape(-1, 3)
    y = np.array(layer(x))
    expected = numpy_batch_norm(layer, np.array(x), flat.mean(0), flat.var(0))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    ddof = 1 if kind == "unbiased" else 0
    new_mean, new_var = stats(layer)
    np.testing.assert_allclose(new_mean, 0.7 * mean + 0.3 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new_var, 0.7 * var + 0.3 * flat.var(0, ddof=ddof), rtol=1e-5)


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_evaluation_uses_the_running_statistics_and_keeps_them(kind: str, shape: str) -> None:
    x = batch(SHAPES[shape])
    layer = batch_norm(kind)
    layer.eval()
    before = stats(layer)
    np.testing.assert_allclose(np.array(layer(x)), numpy_batch_norm(layer, np.array(x), *before),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(stats(layer), before)
    layer.train()
    layer(x)
    assert not np.allclose(stats(layer)[0], before[0])


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("use_running_average", [False, True])
def test_biased_batch_norm_matches_nnx_batch_norm(
    shape: str, masked: bool, use_running_average: bool
):
    """Outputs, running statistics and parameter gradients of the stock layer, with and
    without a mask, in both modes."""
    x = batch(SHAPES[shape])
    mask = np.random.default_rng(3).uniform(size=(*x.shape[:-1], 1)) > 0.4 if masked else None
    ours = batch_norm("biased")
    theirs = stock(ours)
    args = {"use_running_average": use_running_average, "mask": mask}
    np.testing.assert_allclose(np.array(ours(x, **args)), np.array(theirs(x, **args)),
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(stats(ours), stats(theirs), rtol=1e-6, atol=1e-7)

    def loss(layer: nnx.Module) -> jax.Array:
        return jnp.sum(jnp.sin(layer(x, **args)))

    ours, theirs = batch_norm("biased"), stock(batch_norm("biased"))
    grads = [nnx.grad(loss)(layer) for layer in (ours, theirs)]
    for name in ("scale", "bias"):
        np.testing.assert_allclose(np.array(grads[0][name][...]), np.array(grads[1][name][...]),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("shape", list(SHAPES))
def test_masked_statistics_are_those_of_the_kept_entries(shape: str) -> None:
    """Normalization and both running statistics use only the entries the mask keeps; the
    unbiased variance counts only them."""
    x = batch(SHAPES[shape])
    mask = np.random.default_rng(3).uniform(size=(*x.shape[:-1], 1)) > 0.4
    kept = np.array(x, np.float64).reshape(-1, 3)[mask.reshape(-1)]
    assert 1 < len(kept) < x.size // 3
    layer = batch_norm("unbiased")
    mean, var = stats(layer)
    y = np.array(layer(x, mask=jnp.asarray(mask)))
    expected = numpy_batch_norm(layer, np.array(x), kept.mean(0), kept.var(0))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    new_mean, new_var = stats(layer)
    np.testing.assert_allclose(new_mean, 0.7 * mean + 0.3 * kept.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new_var, 0.7 * var + 0.3 * kept.var(0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_use_running_average_in_the_call_overrides_the_mode(kind: str, mode: str) -> None:
    x = batch(SHAPES["conv"])
    expected = {}
    for use_running_average in (True, False):
        layer = batch_norm(kind, use_running_average=use_running_average)
        expected[use_running_average] = (np.array(layer(x)), stats(layer))
    for wanted in (True, False):
        layer = batch_norm(kind)
        getattr(layer, mode)()
        np.testing.assert_array_equal(
            np.array(layer(x, use_running_average=wanted)), expected[wanted][0]
        )
        np.testing.assert_array_equal(stats(layer), expected[wanted][1])
    assert not np.allclose(expected[True][0], expected[False][0])


def test_use_running_average_none_everywhere_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="set use_running_average to True or False"):
        batch_norm("biased", use_running_average=None)(batch((6, 3)))


def test_running_statistics_are_kept_in_param_dtype() -> None:
    """The stock layer keeps them in float32 whatever ``param_dtype``; these layers do not."""
    for kind in CLASSES:
        layer = CLASSES[kind](3, param_dtype=jnp.bfloat16, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
        assert {v.dtype for v in (layer.mean[...], layer.var[...], layer.scale[...])} == {
            jnp.dtype(jnp.bfloat16)
        }
        layer(jnp.ones((4, 3), jnp.bfloat16) * jnp.arange(4, dtype=jnp.bfloat16)[:, None])
        assert stats(layer)[0].dtype == jnp.bfloat16 and stats(layer)[1].dtype == jnp.bfloat16
    assert (
        nnx.BatchNorm(3, param_dtype=jnp.bfloat16, rngs=nnx.Rngs(0)).mean[...].dtype == jnp.float32
    )


def restored(layer: nnx.Module) -> nnx.Module:
    """``layer`` with its state saved and loaded as a user would: ``msgpack_restore`` then
    ``nnx.update``, which leaves read-only numpy arrays in the layer."""
    state = nnx.state(layer)
    data = serialization.msgpack_restore(serialization.msgpack_serialize(nnx.to_pure_dict(state)))
    nnx.replace_by_pure_dict(state, data)
    nnx.update(layer, state)
    leaves = jax.tree.leaves(nnx.state(layer))
    assert leaves and all(isinstance(v, np.ndarray) and not v.flags.writeable for v in leaves)
    return layer


def train_step(layer: nnx.Module, x: jax.Array) -> None:
    def loss(layer: nnx.Module) -> jax.Array:
        return jnp.mean(jnp.square(layer(x)))

    grads = nnx.grad(loss)(layer)
    for name in ("scale", "bias"):
        param = getattr(layer, name)
        param.set_value(param[...] - 0.1 * grads[name][...])


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_read_only_restored_arrays_train_like_fresh_ones(kind: str, jit: bool) -> None:
    """Where ``nnx.BatchNorm`` fails (it writes into the running statistics), these layers
    train on restored read-only arrays, as they do on fresh ones."""
    x = batch(SHAPES["conv"])
    step = nnx.jit(train_step) if jit else train_step
    fresh, loaded = batch_norm(kind), restored(batch_norm(kind))
    for layer in (fresh, loaded):
        step(layer, x)
    for name in ("mean", "var", "scale", "bias"):
        np.testing.assert_allclose(np.array(getattr(loaded, name)[...]),
                                   np.array(getattr(fresh, name)[...]), rtol=1e-6, atol=1e-7)  # fmt: skip
    assert not np.allclose(stats(loaded)[0], stats(batch_norm(kind))[0])
    if not jit:
        with pytest.raises(ValueError, match="read-only"):
            restored(stock(batch_norm(kind)))(x)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_axis_name_gives_the_full_batch_statistics(kind: str) -> None:
    """Mapped one example at a time with ``axis_name``, the layer normalizes with, and keeps,
    the statistics of the whole batch."""
    x = batch(SHAPES["conv"])
    whole, shared = batch_norm(kind), batch_norm(kind, axis_name="examples")
    expected = np.array(whole(x))
    apply = nnx.vmap(lambda layer, e: layer(e), in_axes=(None, 0), axis_name="examples")
    np.testing.assert_allclose(np.array(apply(shared, x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats(shared), stats(whole), rtol=1e-5, atol=1e-6)


def test_one_value_per_channel_in_training_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="value per channel"):
        batch_norm("unbiased")(batch((1, 3)))


# --- Standardize --------------------------------------------------------------------------------

MEAN, STD = [0.5, -1.0, 2.0], [2.0, 0.5, 1.0]


def test_given_statistics_standardize_at_once() -> None:
    layer = Standardize(3, MEAN, STD, epsilon=1e-3, dtype=jnp.float32)
    assert layer.fitted
    x = batch(SHAPES["conv"])
    y = layer(x)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(np.array(y), (np.array(x) - MEAN) / np.array(STD), rtol=1e-6)


def test_without_statistics_it_refuses_to_run_until_adapted() -> None:
    layer = Standardize(3, epsilon=1e-3, dtype=jnp.float32)
    assert not layer.fitted
    assert np.isnan(np.array(layer.mean[...])).all() and np.isnan(np.array(layer.std[...])).all()
    with pytest.raises(RuntimeError, match=r"call its adapt\(x_train\)"):
        layer(batch((2, 3)))
    layer.adapt(batch((2, 3)))
    assert layer.fitted and np.isfinite(np.array(layer(batch((2, 3))))).all()


@pytest.mark.parametrize(
    "shape", [(50, 3), (8, 5, 5, 3), (6, 9, 3)], ids=["flat", "image", "sequence"]
)
def test_adapt_fits_the_population_statistics_of_every_axis_but_the_last(shape: tuple[int, ...]):
    x = np.random.default_rng(4).normal([1.0, -2.0, 3.0], [0.5, 2.0, 1.5], shape)
    layer = Standardize(3, epsilon=1e-3, dtype=jnp.float32)
    layer.adapt(x)  # float64 numpy in: kept in the layer's dtype
    flat = x.reshape(-1, 3)
    assert layer.mean[...].dtype == jnp.float32 and layer.std[...].dtype == jnp.float32
    np.testing.assert_allclose(np.array(layer.mean[...]), flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.array(layer.std[...]), flat.std(0), rtol=1e-5)  # ddof=0
    y = np.array(layer(jnp.asarray(x, jnp.float32)), np.float64).reshape(-1, 3)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, rtol=1e-4)


def test_adapt_floors_the_std_at_epsilon() -> None:
    """A constant channel gets std ``epsilon``, not 0 (no division by zero); others are kept."""
    x = np.stack(
        [np.full(10, 4.0), np.linspace(0, 1, 10), np.full(10, 4.0) + 1e-4 * np.arange(10)], -1
    )
    layer = Standardize(3, epsilon=0.01, dtype=jnp.float32)
    layer.adapt(x)
    std = np.array(layer.std[...])
    np.testing.assert_allclose(std, [0.01, x[:, 1].std(), 0.01], rtol=1e-5)
    y = np.array(layer(jnp.asarray(x, jnp.float32)))
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[:, 0], 0, atol=1e-6)


def test_adapt_again_refits() -> None:
    layer = Standardize(3, MEAN, STD, epsilon=1e-3, dtype=jnp.float32)
    x = np.random.default_rng(5).normal(3.0, 4.0, (40, 3))
    layer.adapt(x)
    np.testing.assert_allclose(np.array(layer.mean[...]), x.mean(0), rtol=1e-5)


def test_input_statistics_are_state_but_not_parameters() -> None:
    """Loaded or fitted, never trained: a gradient step over the parameters leaves them."""
    layer = Standardize(3, MEAN, STD, epsilon=1e-3, dtype=jnp.float32)
    assert isinstance(layer.mean, InputStatistic) and not isinstance(layer.mean, nnx.Param)
    assert set(nnx.state(layer, InputStatistic).keys()) == {"mean", "std"}
    assert jax.tree.leaves(nnx.state(layer, nnx.Param)) == []


def test_restored_statistics_are_enough_eager_and_compiled() -> None:
    """As the README loads weights: restore (read-only arrays), ``nnx.update``; nothing else.
    A compiled first call checks the statistics as it runs; once an eager call has checked
    them, later traces leave the check out (``checked`` is static under ``nnx.jit``)."""
    source = Standardize(3, MEAN, STD, epsilon=1e-3, dtype=jnp.float32)
    layer = Standardize(3, epsilon=1e-3, dtype=jnp.float32)
    data = serialization.msgpack_restore(
        serialization.msgpack_serialize(nnx.to_pure_dict(nnx.state(source)))
    )
    state = nnx.state(layer)
    nnx.replace_by_pure_dict(state, data)
    nnx.update(layer, state)
    assert layer.fitted and not layer.checked
    x = batch((4, 3))
    compiled = nnx.jit(lambda layer, x: layer(x))
    np.testing.assert_allclose(np.array(compiled(layer, x)), np.array(source(x)), rtol=1e-6)
    assert not layer.checked  # nothing is learnt from traced values
    np.testing.assert_allclose(np.array(layer(x)), np.array(source(x)), rtol=1e-6)
    assert layer.checked
    assert "callback" not in str(jax.make_jaxpr(lambda x: nnx.merge(*nnx.split(layer))(x))(x))


def test_unset_statistics_refuse_under_jit_as_the_compiled_function_runs() -> None:
    layer = Standardize(3, epsilon=1e-3, dtype=jnp.float32)
    compiled = nnx.jit(lambda layer, x: layer(x))
    with pytest.raises(RuntimeError, match=r"not set; call its adapt\(x_train\)"):
        np.array(compiled(layer, batch((2, 3))))
    layer.adapt(batch((2, 3)))
    assert np.isfinite(np.array(compiled(layer, batch((2, 3))))).all()


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("shape", [(512, 10), (3, 3, 3, 64), (3, 3, 64, 128), (2, 5, 7), (1, 1)])
def test_a_named_initializer_draws_from_the_distribution_the_spec_records(
    name: str, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The numbers it hands the drawing initializer are those ``resolve`` writes into the
    canonical spec for the kernel's fans (a Linear ``(in, out)``, a Conv ``(*kernel, in,
    out)``)."""
    from normspec.backends.flax.layers import initializers
    from normspec.ir import initializers as resolved
    from normspec.ir import ops as ir

    drawn: list[tuple[float, ...]] = []

    def recorder(*numbers: float) -> Any:
        drawn.append(numbers)
        return lambda key, shape, dtype: jnp.zeros(shape, dtype)

    monkeypatch.setattr(initializers, "truncated_normal", recorder)
    monkeypatch.setattr(initializers, "uniform", recorder)
    getattr(initializers, name)()(jax.random.key(0), shape, jnp.float32)
    size = math.prod(shape[:-2])
    expected = resolved.resolve(name, shape[-2] * size, shape[-1] * size)
    if isinstance(expected, ir.TruncatedNormal):
        assert drawn == [(expected.mean, expected.std, expected.low, expected.high)]
    else:
        assert isinstance(expected, ir.Uniform)
        assert drawn == [(expected.low, expected.high)]
