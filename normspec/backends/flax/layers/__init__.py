"""The custom layers of the emitted Flax module, as importable, tested code.

:mod:`normspec.backends.flax.helpers` reads these modules as text and copies each definition a
spec needs into the generated file, which gives it the same imports (``jax``, ``jax.numpy as
jnp``, ``flax.nnx``) and constants (``DTYPE``). This package imports nothing itself, so emitting
never loads JAX or Flax; import its modules (:mod:`~.initializers`, :mod:`~.norms`,
:mod:`~.inputs`) to use or test the layers.
"""
