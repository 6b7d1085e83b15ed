"""Named initializers resolved to explicit distributions for a given fan-in and fan-out.

Conventions (normspec's, written out in every canonical spec):

* ``glorot_uniform`` / ``xavier_uniform``: U(±sqrt(6 / (fan_in + fan_out)));
* ``he_uniform`` / ``kaiming_uniform``: U(±sqrt(6 / fan_in));
  ``lecun_uniform``: U(±sqrt(3 / fan_in));
* ``glorot_normal``, ``he_normal``, ``lecun_normal``: Keras/JAX ``variance_scaling`` with a
  truncated normal: N(0, s) cut at ±2s, with s = sqrt(scale / fan) / 0.8796256610342398 so the
  variance is the target one;
* ``xavier_normal``, ``kaiming_normal``: PyTorch's untruncated normals;
* ``torch_default``: PyTorch's Linear/Conv default U(±1/sqrt(fan_in)), for kernel and bias;
* ``zeros``, ``ones``.
"""

from __future__ import annotations

import math

from normspec.ir import ops as ir

TRUNCATION_STD = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2]."""


def resolve(
    name: str, fan_in: int, fan_out: int
) -> ir.Uniform | ir.Normal | ir.TruncatedNormal | ir.Constant:
    """Explicit distribution of the named initializer."""
    avg = (fan_in + fan_out) / 2
    if name in ("zeros", "ones"):
        return ir.Constant(value=0.0 if name == "zeros" else 1.0)
    if name == "torch_default":
        bound = 1 / math.sqrt(fan_in)
        return ir.Uniform(low=-bound, high=bound)
    uniform_scale = {
        "glorot_uniform": 1 / avg,
        "xavier_uniform": 1 / avg,
        "he_uniform": 2 / fan_in,
        "kaiming_uniform": 2 / fan_in,
        "lecun_uniform": 1 / fan_in,
    }
    if name in uniform_scale:
        bound = math.sqrt(3 * uniform_scale[name])
        return ir.Uniform(low=-bound, high=bound)
    if name in ("xavier_normal", "kaiming_normal"):
        std = math.sqrt(1 / avg if name == "xavier_normal" else 2 / fan_in)
        return ir.Normal(mean=0.0, std=std)
    truncated_scale = {
        "glorot_normal": 1 / avg,
        "he_normal": 2 / fan_in,
        "lecun_normal": 1 / fan_in,
    }
    if name in truncated_scale:
        std = math.sqrt(truncated_scale[name]) / TRUNCATION_STD
        return ir.TruncatedNormal(mean=0.0, std=std, low=-2 * std, high=2 * std)
    raise ValueError(f"unknown initializer '{name}'")
