"""Small definitions the emitted Flax module contains when the spec needs them.

Initializers are tiny functions with the spec's numbers; custom modules exist only where no
stock ``nnx`` layer computes exactly what the IR says, or where the stock layer would fail on
weights users load themselves (``nnx.BatchNorm`` writes its running statistics in place). Each
is source text copied into the generated file in the order of :data:`HELPERS`.
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

_BATCH_NORM = '''
class BatchNorm(nnx.BatchNorm):
    """``nnx.BatchNorm`` that assigns new running statistics, never writing into them.

    The stock layer updates ``mean`` and ``var`` in place, which fails on the read-only
    arrays ``flax.serialization.msgpack_restore`` returns; this one replaces the arrays.
    They are kept in ``param_dtype`` (the stock layer makes them float32 whatever the
    dtype, which would round those of a float64 model). Training normalizes with the
    biased (two-pass) batch variance and evaluation with the running statistics, as the
    stock layer does; it takes the same options and call arguments.
    """

    def __init__(self, num_features: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.mean.set_value(jnp.asarray(self.mean[...], self.param_dtype))
        self.var.set_value(jnp.asarray(self.var[...], self.param_dtype))

    def __call__(
        self,
        x: jax.Array,
        use_running_average: bool | None = None,
        *,
        mask: jax.Array | None = None,
    ) -> jax.Array:
        """Normalize ``x`` over every axis but ``axis``, as ``nnx.BatchNorm`` does.

        ``use_running_average`` (if not given, the attribute ``eval()`` and ``train()``
        set) picks the running statistics. Otherwise the batch's are used, and update
        the running ones: over the entries where ``mask`` is true, averaged across the
        devices of ``axis_name`` (``jax.lax.pmean``) when it is set.
        """
        if use_running_average is None:
            use_running_average = self.use_running_average
        if use_running_average is None:
            raise ValueError("BatchNorm: set use_running_average to True or False")
        if self.dtype is not None:
            x = jnp.asarray(x, self.dtype)
        feature = self.axis % x.ndim
        axes = tuple(i for i in range(x.ndim) if i != feature)
        if use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            mean, var, count = self.batch_statistics(x, axes, mask)
            keep = self.momentum  # Flax's momentum: the weight of the old running value
            running_var = self.running_variance(var, count)
            self.mean.set_value(keep * self.mean[...] + (1.0 - keep) * mean)
            self.var.set_value(keep * self.var[...] + (1.0 - keep) * running_var)
        mul = jax.lax.rsqrt(var + self.epsilon)
        if self.scale is not None:
            mul = mul * self.scale[...]
        y = (x - jnp.expand_dims(mean, axes)) * jnp.expand_dims(mul, axes)
        return y if self.bias is None else y + jnp.expand_dims(self.bias[...], axes)

    def batch_statistics(
        self, x: jax.Array, axes: tuple[int, ...], mask: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array, int | jax.Array]:
        """Mean and biased (two-pass) variance over ``axes`` of the entries where
        ``mask`` is true, across the devices of ``axis_name`` if set, and how many
        entries each feature's statistics average."""
        where = None if mask is None else jnp.broadcast_to(mask, x.shape)
        mean = self.device_mean(jnp.mean(x, axis=axes, keepdims=True, where=where))
        var = self.device_mean(jnp.mean(jnp.square(x - mean), axis=axes, where=where))
        count = x.size // var.size if where is None else jnp.sum(where, axis=axes)
        if self.axis_name is not None:
            groups = self.axis_index_groups
            count = jax.lax.psum(count, self.axis_name, axis_index_groups=groups)
        return jnp.squeeze(mean, axes), var, count

    def device_mean(self, value: jax.Array) -> jax.Array:
        """``value`` averaged across the devices of ``axis_name``, if set."""
        if self.axis_name is None:
            return value
        groups = self.axis_index_groups
        return jax.lax.pmean(value, self.axis_name, axis_index_groups=groups)

    def running_variance(self, var: jax.Array, count: int | jax.Array) -> jax.Array:
        """What the running variance tracks: the biased batch variance."""
        return var
'''

_UNBIASED_BATCH_NORM = '''
class UnbiasedBatchNorm(BatchNorm):
    """BatchNorm whose running variance tracks the unbiased batch variance.

    Training normalizes with the biased (two-pass) batch variance, as the stock layer
    does, but updates the running variance with ``var * n / (n - 1)``, where ``n`` is
    the number of values per channel in the batch (batch size times spatial size, or
    the entries ``mask`` keeps; summed across the devices of ``axis_name``), as PyTorch
    does. Evaluation uses the running statistics, like the stock layer.
    """

    def running_variance(self, var: jax.Array, count: int | jax.Array) -> jax.Array:
        return var * jnp.asarray(count / (count - 1), var.dtype)
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
    "BatchNorm": Helper(_BATCH_NORM),
    "UnbiasedBatchNorm": Helper(_UNBIASED_BATCH_NORM, needs=("BatchNorm",)),
    "InputStatistic": Helper(_INPUT_STATISTIC),
    "Standardize": Helper(_STANDARDIZE, needs=("InputStatistic",)),
}
"""Every helper, in the order the module defines them."""


def closure(names: set[str]) -> list[str]:
    """``names`` and what they need, in :data:`HELPERS` order."""
    wanted = set(names)
    for name in list(wanted):
        wanted.update(HELPERS[name].needs)
    return [name for name in HELPERS if name in wanted]


def helper_source(name: str) -> str:
    return HELPERS[name].source.strip("\n")
