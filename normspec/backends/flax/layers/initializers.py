"""Initializers of the emitted Flax module: each returns an ``nnx.Initializer`` with the spec's
numbers, for the layers' ``kernel_init`` and ``bias_init``.

Each definition is copied verbatim into the generated file (by
:mod:`normspec.backends.flax.helpers`), which has the same imports and defines ``DTYPE`` as the
spec's dtype; here ``DTYPE`` is float32, the default of every model not in float64.
"""

import jax
import jax.numpy as jnp
from flax import nnx

DTYPE = jnp.float32


def uniform(low: float, high: float) -> nnx.Initializer:
    """Initializer drawing from U(low, high)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, minval=low, maxval=high)

    return init


def normal(mean: float, std: float) -> nnx.Initializer:
    """Initializer drawing from N(mean, std**2)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return mean + std * jax.random.normal(key, shape, dtype)

    return init


def truncated_normal(
    mean: float,
    std: float,
    low: float,
    high: float,
) -> nnx.Initializer:
    """Initializer drawing from N(mean, std**2) restricted to [low, high]."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        lower, upper = (low - mean) / std, (high - mean) / std  # in standard deviations
        return mean + std * jax.random.truncated_normal(key, lower, upper, shape, dtype)

    return init


def constant(value: float) -> nnx.Initializer:
    """Initializer filling every entry with ``value``."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return jnp.full(shape, value, dtype)

    return init
