"""Options of the emitted Flax model and its layers that users set themselves: the precision of
every matrix product and convolution."""

from __future__ import annotations

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
