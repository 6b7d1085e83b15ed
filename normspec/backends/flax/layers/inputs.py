"""Input normalization of the emitted Flax module: ``Standardize``, with statistics fitted on the
training inputs (``adapt``) or given by the spec, held as ``InputStatistic`` variables.

Each definition is copied verbatim into the generated file (by
:mod:`normspec.backends.flax.helpers`), which has the same imports.
"""

import jax
import jax.numpy as jnp
from flax import nnx


class InputStatistic(nnx.Variable):
    """Statistics of the training inputs: fitted or loaded, never trained."""


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
