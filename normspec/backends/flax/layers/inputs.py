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
    training inputs (population std, floored at ``epsilon``), or restore a state that
    holds them (``nnx.update``, ``nnx.replace_by_pure_dict``, an Orbax checkpoint);
    until then the module refuses to run.

    Whether it is fitted is read from the statistics, which are NaN until set, and not
    from a flag: Flax's restoring functions set variables only, and a flag kept as a
    variable would be one more entry in every saved state. Called eagerly, an unfitted
    module raises at once. Under ``nnx.jit`` the statistics are traced, so the compiled
    function checks them as it runs and raises the same error, wrapped in JAX's (NaN
    inputs would not reliably give NaN outputs: max pooling drops them). Once a check
    on concrete values has passed (``adapt``, statistics given, an eager call), later
    traces leave it out: ``checked``, a Python attribute, is static under ``nnx.jit``.
    """

    def __init__(self, channels: int, mean=None, std=None, *, epsilon, dtype) -> None:
        unset = jnp.full((channels,), jnp.nan, dtype)
        self.mean = InputStatistic(unset if mean is None else jnp.asarray(mean, dtype))
        self.std = InputStatistic(unset if std is None else jnp.asarray(std, dtype))
        self.epsilon = epsilon
        self.checked = mean is not None and std is not None

    @property
    def fitted(self) -> bool:
        """Whether mean and std are set (hold no NaN); not under ``nnx.jit``."""
        return not bool(self._unset())

    def adapt(self, x: jax.Array) -> None:
        """Fits mean and std on ``x`` (N, *spatial, C): over every axis but the last."""
        x = jnp.asarray(x, self.mean[...].dtype)
        axes = tuple(range(x.ndim - 1))
        self.mean.set_value(jnp.mean(x, axis=axes))
        self.std.set_value(jnp.maximum(jnp.std(x, axis=axes), self.epsilon))
        self.checked = True

    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.checked:
            self._check()
        return (x - self.mean[...]) / self.std[...]

    def _check(self) -> None:
        """Raises unless mean and std are set: at once when their values are concrete,
        else (traced, under ``nnx.jit``) as the compiled function runs."""
        unset = self._unset()
        if isinstance(unset, jax.core.Tracer):
            jax.lax.cond(unset, lambda: jax.debug.callback(self._refuse), lambda: None)
        elif unset:
            self._refuse()
        else:
            self.checked = True

    def _unset(self) -> jax.Array:
        return jnp.isnan(self.mean[...]).any() | jnp.isnan(self.std[...]).any()

    @staticmethod
    def _refuse() -> None:
        raise RuntimeError(
            "Standardize: mean and std are not set; call its adapt(x_train) with the "
            "training inputs, or restore a state that holds them (nnx.update)"
        )
