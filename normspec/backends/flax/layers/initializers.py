"""Initializers of the emitted Flax module: each returns an ``nnx.Initializer`` with the spec's
numbers, for the layers' ``kernel_init`` and ``bias_init``.

Each definition is copied verbatim into the generated file (by
:mod:`normspec.backends.flax.helpers`), which has the same imports and defines ``DTYPE`` as the
spec's dtype; here ``DTYPE`` is float32, the default of every model not in float64.
"""

import math

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


# The spec's named initializers drawn from the kernel's fans, with the arithmetic of
# normspec.ir.initializers.resolve: fan-in is the kernel's size but its last axis
# (kernel size x input channels), fan-out its last axis x kernel size (one group).


def he_normal() -> nnx.Initializer:
    """He normal: N(0, s) cut at ±2s, s = sqrt(2 / fan_in) / 0.87962566103423978 (the
    std of a unit normal cut at ±2)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        std = math.sqrt(2 / math.prod(shape[:-1])) / 0.87962566103423978
        return truncated_normal(0.0, std, -2 * std, 2 * std)(key, shape, dtype)

    return init


def lecun_normal() -> nnx.Initializer:
    """LeCun normal: N(0, s) cut at ±2s, s = sqrt(1 / fan_in) / 0.87962566103423978."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        std = math.sqrt(1 / math.prod(shape[:-1])) / 0.87962566103423978
        return truncated_normal(0.0, std, -2 * std, 2 * std)(key, shape, dtype)

    return init


def glorot_normal() -> nnx.Initializer:
    """Glorot normal: N(0, s) cut at ±2s, s = sqrt(1 / fan_avg) / 0.87962566103423978,
    fan_avg the mean of fan-in and fan-out."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        fan_avg = (math.prod(shape[:-1]) + shape[-1] * math.prod(shape[:-2])) / 2
        std = math.sqrt(1 / fan_avg) / 0.87962566103423978
        return truncated_normal(0.0, std, -2 * std, 2 * std)(key, shape, dtype)

    return init


def he_uniform() -> nnx.Initializer:
    """He uniform: U(±sqrt(6 / fan_in))."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        bound = math.sqrt(3 * (2 / math.prod(shape[:-1])))
        return uniform(-bound, bound)(key, shape, dtype)

    return init


def lecun_uniform() -> nnx.Initializer:
    """LeCun uniform: U(±sqrt(3 / fan_in))."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        bound = math.sqrt(3 * (1 / math.prod(shape[:-1])))
        return uniform(-bound, bound)(key, shape, dtype)

    return init


def glorot_uniform() -> nnx.Initializer:
    """Glorot uniform: U(±sqrt(6 / (fan_in + fan_out)))."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        fan_avg = (math.prod(shape[:-1]) + shape[-1] * math.prod(shape[:-2])) / 2
        bound = math.sqrt(3 * (1 / fan_avg))
        return uniform(-bound, bound)(key, shape, dtype)

    return init
