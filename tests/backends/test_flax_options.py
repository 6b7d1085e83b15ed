"""Options of the emitted Flax model and its layers that users set themselves: the precision of
every matrix product and convolution; the batch norms' ``use_running_average``, ``mask`` and
``axis_name``, which work as in ``nnx.BatchNorm``."""

from __future__ import annotations

import numpy as np
import pytest

from parity_cases import make_spec

pytest.importorskip("flax")
pytestmark = pytest.mark.flax

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

from normspec.backends.flax.runtime import model_class  # noqa: E402

PRECISION_LAYERS = """\
- conv2d: {filters: 3, norm: batch}
- residual: {body: [{conv2d: {filters: 3, padding: same}}]}
- conv2d: {filters: 2}
- flatten
- dense: 4
- dense: 2"""
Precision = jax.lax.Precision


def _weighted_layers(model: nnx.Module) -> list[nnx.Module]:
    layers = [m for _, m in nnx.iter_modules(model) if isinstance(m, nnx.Linear | nnx.Conv)]
    assert len(layers) == 5
    return layers


def _products(model: nnx.Module) -> list[str]:
    """The ``precision=`` of every dot product and convolution the eval forward pass runs."""
    model.eval()
    x = jnp.ones((2, 8, 8, 3), jnp.float32)
    equations = jax.make_jaxpr(lambda x: model(x))(x).jaxpr.eqns
    wanted = ("dot_general", "conv_general_dilated")
    return [str(e.params["precision"]) for e in equations if e.primitive.name in wanted]


@pytest.mark.parametrize(
    ("kwargs", "layers", "lowered"),
    [
        ({}, Precision.HIGHEST, "(Precision.HIGHEST, Precision.HIGHEST)"),
        ({"precision": Precision.DEFAULT}, Precision.DEFAULT, "(Precision.DEFAULT, Precision.DEFAULT)"),
        ({"precision": "high"}, "high", "(Precision.HIGH, Precision.HIGH)"),
        ({"precision": None}, None, "None"),
    ],
    ids=["default-is-highest", "default", "high-by-name", "none"],
)  # fmt: skip
def test_precision_reaches_every_linear_and_conv(kwargs: dict, layers: object, lowered: str):
    """The model's ``precision`` is every layer's, and every product is computed with it."""
    spec = make_spec("[8, 8, 3]", PRECISION_LAYERS)
    model = model_class(spec)(rngs=nnx.Rngs(0), **kwargs)
    assert [layer.precision for layer in _weighted_layers(model)] == [layers] * 5
    assert _products(model) == [lowered] * 5


BN_LAYERS = "- batch_norm: {running_var: biased, momentum: 0.3}\n- batch_norm: {momentum: 0.3}"
SHAPES = {"dense": (6, 3), "conv": (4, 5, 5, 3)}


def batch_norm_classes() -> dict[str, type[nnx.Module]]:
    """The emitted ``BatchNorm`` (biased running variance) and ``UnbiasedBatchNorm``."""
    model = model_class(make_spec("[3]", BN_LAYERS))(rngs=nnx.Rngs(0))
    return {"biased": type(model.batch_norm_1), "unbiased": type(model.batch_norm_2)}


CLASSES = batch_norm_classes()


def batch_norm(kind: str, **options: object) -> nnx.Module:
    """A layer with non-trivial scale, shift and running statistics."""
    layer = CLASSES[kind](3, momentum=0.7, epsilon=1e-3, use_fast_variance=False,
                          rngs=nnx.Rngs(0), **options)  # fmt: skip
    rng = np.random.default_rng(1)
    for name, low, high in (("scale", 0.5, 1.5), ("bias", -1, 1), ("mean", -1, 1), ("var", 0.5, 2)):
        getattr(layer, name).set_value(jnp.asarray(rng.uniform(low, high, 3), jnp.float32))
    return layer


def batch(shape: tuple[int, ...], seed: int = 2) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).normal(1.0, 2.0, shape), jnp.float32)


def stats(layer: nnx.Module) -> tuple[np.ndarray, np.ndarray]:
    return np.array(layer.mean[...]), np.array(layer.var[...])


def test_a_batch_norm_built_for_evaluation_stays_so() -> None:
    """``use_running_average=True`` in the constructor: the running statistics, unchanged."""
    layer = batch_norm("unbiased", use_running_average=True)
    x, before = batch((6, 3)), stats(layer)
    mean, var = before
    scale, bias = np.array(layer.scale[...]), np.array(layer.bias[...])
    expected = (np.array(x) - mean) / np.sqrt(var + 1e-3) * scale + bias
    np.testing.assert_allclose(np.array(layer(x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stats(layer), before)


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_use_running_average_in_the_call_overrides_the_mode(kind: str, mode: str, shape: str):
    """In either mode, ``use_running_average=`` gives what the other mode gives, and only
    batch statistics move the running ones."""
    x = batch(SHAPES[shape])
    expected = {}
    for use_running_average in (True, False):
        layer = batch_norm(kind, use_running_average=use_running_average)
        expected[use_running_average] = (np.array(layer(x)), stats(layer))
    for wanted in (True, False):
        layer = batch_norm(kind)
        getattr(layer, mode)()  # .train() or .eval()
        y = np.array(layer(x, use_running_average=wanted))
        np.testing.assert_array_equal(y, expected[wanted][0])
        np.testing.assert_array_equal(stats(layer), expected[wanted][1])
    assert not np.allclose(expected[True][0], expected[False][0])


def test_nnx_view_sets_use_running_average() -> None:
    model = model_class(make_spec("[3]", BN_LAYERS))(rngs=nnx.Rngs(0))
    view = nnx.view(model, use_running_average=True)
    assert view.batch_norm_1.use_running_average and view.batch_norm_2.use_running_average


def test_use_running_average_none_everywhere_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="use_running_average"):
        batch_norm("biased", use_running_average=None)(batch((6, 3)))


@pytest.mark.parametrize("shape", list(SHAPES))
def test_biased_batch_norm_matches_nnx_batch_norm(shape: str) -> None:
    """Outputs and running statistics of the stock layer, with and without a mask, in both
    modes (the stock layer with fresh, writable arrays)."""
    x = batch(SHAPES[shape])
    masks = [None, np.random.default_rng(3).uniform(size=(*x.shape[:-1], 1)) > 0.4]
    for mask in masks:
        for use_running_average in (False, True):
            ours = batch_norm("biased")
            stock = nnx.BatchNorm(3, momentum=0.7, epsilon=1e-3, use_fast_variance=False,
                                  rngs=nnx.Rngs(0))  # fmt: skip
            nnx.update(stock, nnx.state(ours))
            args = {"use_running_average": use_running_average, "mask": mask}
            y, expected = ours(x, **args), stock(x, **args)
            np.testing.assert_allclose(np.array(y), np.array(expected), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(stats(ours), stats(stock), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_masked_statistics_are_those_of_the_kept_entries(shape: str) -> None:
    """The unbiased running variance counts only the entries the mask keeps."""
    x = batch(SHAPES[shape])
    mask = np.random.default_rng(3).uniform(size=(*x.shape[:-1], 1)) > 0.4
    layer = batch_norm("unbiased")
    mean, var = stats(layer)
    kept = np.array(x).reshape(-1, 3)[mask.reshape(-1)]
    layer(x, mask=jnp.asarray(mask))
    new_mean, new_var = stats(layer)
    np.testing.assert_allclose(new_mean, 0.7 * mean + 0.3 * kept.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new_var, 0.7 * var + 0.3 * kept.var(0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize(("shape", "masked"), [("dense", False), ("conv", False), ("conv", True)])
def test_axis_name_gives_the_full_batch_statistics(kind: str, shape: str, masked: bool):
    """Mapped one example at a time (``jax.vmap`` with ``axis_name``), the layer normalizes
    with, and keeps, the statistics of the whole batch, as without the axis on the batch."""
    x = batch(SHAPES[shape])
    mask = None
    if masked:  # the same number of kept pixels in every example, as pmean assumes
        keep = np.arange(25).reshape(5, 5, 1) % 3 != 0
        mask = jnp.asarray(np.broadcast_to(keep, x.shape))
    whole = batch_norm(kind)
    expected = np.array(whole(x, mask=mask))
    assert np.isfinite(expected).all() and np.isfinite(stats(whole)).all()
    graphdef, state = nnx.split(batch_norm(kind, axis_name="examples"))

    def one(state: nnx.State, example: jax.Array, example_mask: jax.Array | None):
        layer = nnx.merge(graphdef, state)
        return layer(example, mask=example_mask), nnx.state(layer)

    in_axes = (None, 0, None if mask is None else 0)
    y, new = jax.vmap(one, in_axes=in_axes, axis_name="examples")(state, x, mask)
    np.testing.assert_allclose(np.array(y), expected, rtol=1e-5, atol=1e-5)
    for name, value in zip(("mean", "var"), stats(whole), strict=True):
        got = np.array(new[name][...])
        np.testing.assert_allclose(got, np.broadcast_to(value, got.shape), rtol=1e-5, atol=1e-6)


def test_axis_name_under_nnx_vmap() -> None:
    """The same through ``nnx.vmap``, the layer shared by every example."""
    x = batch(SHAPES["conv"])
    whole, shared = batch_norm("unbiased"), batch_norm("unbiased", axis_name="examples")
    expected = np.array(whole(x))
    apply = nnx.vmap(lambda layer, e: layer(e), in_axes=(None, 0), axis_name="examples")
    np.testing.assert_allclose(np.array(apply(shared, x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats(shared), stats(whole), rtol=1e-5, atol=1e-6)
