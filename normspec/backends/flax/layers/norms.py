"""Batch norms of the emitted Flax module: ``nnx.BatchNorm`` with running statistics that are
assigned, never written into, kept in ``param_dtype``, and (``UnbiasedBatchNorm``) a running
variance that tracks the unbiased batch variance, as PyTorch's does.

Each definition is copied verbatim into the generated file (by
:mod:`normspec.backends.flax.helpers`), which has the same imports.
"""

import jax
import jax.numpy as jnp
from flax import nnx


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


class UnbiasedBatchNorm(BatchNorm):
    """BatchNorm whose running variance tracks the unbiased batch variance.

    Training normalizes with the biased (two-pass) batch variance, as the stock layer
    does, but updates the running variance with ``var * n / (n - 1)``, where ``n`` is
    the number of values per channel in the batch (batch size times spatial size, or
    the entries ``mask`` keeps; summed across the devices of ``axis_name``), as PyTorch
    does. Evaluation uses the running statistics, like the stock layer.
    """

    def running_variance(self, var: jax.Array, count: int | jax.Array) -> jax.Array:
        if isinstance(count, int) and count < 2:
            raise ValueError(
                "UnbiasedBatchNorm: expected more than 1 value per channel when "
                f"training, got {count}"
            )
        return var * jnp.asarray(count / (count - 1), var.dtype)
