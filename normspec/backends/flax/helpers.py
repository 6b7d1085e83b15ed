"""Small definitions the emitted Flax module contains when the spec needs them.

Initializers are tiny functions with the spec's numbers; custom modules exist only where no
stock ``nnx`` layer computes exactly what the IR says. Each is source text copied into the
generated file in the order of :data:`HELPERS`; ``{base}`` in a template names the class it
extends (``nnx.BatchNorm``, or the float64 ``BatchNorm`` below).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helper:
    source: str
    needs: tuple[str, ...] = ()
    """Other helpers the source refers to."""


_UNIFORM = '''
def uniform(low: float, high: float) -> nnx.Initializer:
    """Initializer drawing from U(low, high)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, minval=low, maxval=high)

    return init
'''

_NORMAL = '''
def normal(mean: float, std: float) -> nnx.Initializer:
    """Initializer drawing from N(mean, std**2)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return mean + std * jax.random.normal(key, shape, dtype)

    return init
'''

_TRUNCATED_NORMAL = '''
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
'''

_CONSTANT = '''
def constant(value: float) -> nnx.Initializer:
    """Initializer filling every entry with ``value``."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=DTYPE) -> jax.Array:
        return jnp.full(shape, value, dtype)

    return init
'''

_BATCH_NORM_FLOAT64 = '''
class BatchNorm(nnx.BatchNorm):
    """``nnx.BatchNorm`` with its running statistics in ``param_dtype``.

    The stock layer creates ``mean`` and ``var`` in float32 whatever the dtype, which
    would round the running statistics of a float64 model.
    """

    def __init__(self, num_features: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.mean.set_value(self.mean[...].astype(self.param_dtype))
        self.var.set_value(self.var[...].astype(self.param_dtype))
'''

_UNBIASED_BATCH_NORM = '''
class UnbiasedBatchNorm({base}):
    """BatchNorm whose running variance tracks the unbiased batch variance.

    Training normalizes with the biased (two-pass) batch variance, as the stock layer
    does, but updates the running variance with ``var * n / (n - 1)``, where ``n`` is
    the number of values per channel in the batch (batch size times spatial size), as
    PyTorch does. Evaluation uses the running statistics, like the stock layer.
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.use_running_average:
            return super().__call__(x)
        axes = tuple(range(x.ndim - 1))
        mean = jnp.mean(x, axis=axes)
        var = jnp.mean(jnp.square(x - mean), axis=axes)
        n = x.size // x.shape[-1]
        keep = self.momentum  # Flax's momentum: the weight of the old running value
        self.mean[...] = keep * self.mean[...] + (1.0 - keep) * mean
        self.var[...] = keep * self.var[...] + (1.0 - keep) * var * (n / (n - 1))
        mul = jax.lax.rsqrt(var + self.epsilon)
        if self.scale is not None:
            mul = mul * self.scale[...]
        y = (x - mean) * mul
        return y if self.bias is None else y + self.bias[...]
'''

_INPUT_STATISTIC = '''
class InputStatistic(nnx.Variable):
    """Statistics of the training inputs: fitted or loaded, never trained."""
'''

_STANDARDIZE = '''
class Standardize(nnx.Module):
    """``(x - mean) / std`` per channel (last axis).

    Without ``mean`` and ``std`` they are to be fitted: call ``adapt(x)`` on the
    training inputs (population std, floored at ``epsilon``); until then the module
    refuses to run. After loading them (``nnx.update``) or assigning them yourself,
    set ``fitted = True``.
    """

    def __init__(self, channels: int, mean=None, std=None, *, epsilon, dtype) -> None:
        unset = jnp.full((channels,), jnp.nan, dtype)
        self.mean = InputStatistic(unset if mean is None else jnp.asarray(mean, dtype))
        self.std = InputStatistic(unset if std is None else jnp.asarray(std, dtype))
        self.epsilon = epsilon
        self.fitted = mean is not None and std is not None

    def adapt(self, x: jax.Array) -> None:
        """Fits mean and std on ``x`` (N, *spatial, C): over every axis but the last."""
        x = jnp.asarray(x, self.mean[...].dtype)
        axes = tuple(range(x.ndim - 1))
        self.mean.set_value(jnp.mean(x, axis=axes))
        self.std.set_value(jnp.maximum(jnp.std(x, axis=axes), self.epsilon))
        self.fitted = True

    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.fitted:
            raise RuntimeError(
                "Standardize: mean and std are not set; call its adapt(x_train) with "
                "the training inputs, or load weights that hold them and set its "
                "fitted = True"
            )
        return (x - self.mean[...]) / self.std[...]
'''

HELPERS: dict[str, Helper] = {
    "uniform": Helper(_UNIFORM),
    "normal": Helper(_NORMAL),
    "truncated_normal": Helper(_TRUNCATED_NORMAL),
    "constant": Helper(_CONSTANT),
    "BatchNorm": Helper(_BATCH_NORM_FLOAT64),
    "UnbiasedBatchNorm": Helper(_UNBIASED_BATCH_NORM),
    "InputStatistic": Helper(_INPUT_STATISTIC),
    "Standardize": Helper(_STANDARDIZE, needs=("InputStatistic",)),
}
"""Every helper, in the order the module defines them."""


def closure(names: set[str], float64: bool) -> list[str]:
    """``names`` and what they need, in :data:`HELPERS` order. In float64 the unbiased batch
    norm extends the float64 ``BatchNorm``."""
    wanted = set(names)
    if float64 and "UnbiasedBatchNorm" in wanted:
        wanted.add("BatchNorm")
    for name in list(wanted):
        wanted.update(HELPERS[name].needs)
    return [name for name in HELPERS if name in wanted]


def helper_source(name: str, float64: bool) -> str:
    base = "BatchNorm" if float64 else "nnx.BatchNorm"
    return HELPERS[name].source.strip("\n").replace("{base}", base)
