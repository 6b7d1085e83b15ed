"""Element-wise activations (softmax over the channel axis), in float64."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from normspec.ir import ops as ir
from normspec.reference._core import Array, Context, register

# Constants of Klambauer et al. (2017), to the digits PyTorch, Keras and Flax use.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# math.erf is correctly rounded to within an ulp or so; numpy has no erf of its own and the core
# must not depend on scipy, so it is applied element by element.
_erf_object = np.frompyfunc(math.erf, 1, 1)


def erf(x: Array) -> Array:
    """The error function, element-wise, to float64 accuracy."""
    return np.asarray(_erf_object(x), dtype=np.float64)


def sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))`` without overflow: ``exp(-log(1 + exp(-x)))``."""
    return np.exp(-np.logaddexp(0.0, -x))


def gelu(x: Array, approximate: str) -> Array:
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1.0 + np.tanh(inner))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def softmax(x: Array) -> Array:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def elu(x: Array, alpha: float) -> Array:
    # expm1 of the clipped value: accurate near 0 and no overflow warning for large x.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _leaky_relu(x: Array, op: ir.Activation) -> Array:
    if op.negative_slope is None:
        raise ValueError(f"activation '{op.name}': leaky_relu needs an explicit negative_slope")
    return np.where(x >= 0, x, op.negative_slope * x)


def _elu(x: Array, op: ir.Activation) -> Array:
    if op.alpha is None:
        raise ValueError(f"activation '{op.name}': elu needs an explicit alpha")
    return elu(x, op.alpha)


def _gelu(x: Array, op: ir.Activation) -> Array:
    if op.approximate is None:
        raise ValueError(f"activation '{op.name}': gelu needs an explicit approximate form")
    return gelu(x, op.approximate)


FUNCTIONS: dict[str, Callable[[Array, ir.Activation], Array]] = {
    "relu": lambda x, op: np.maximum(x, 0.0),
    "relu6": lambda x, op: np.minimum(np.maximum(x, 0.0), 6.0),
    "elu": _elu,
    "selu": lambda x, op: SELU_SCALE * elu(x, SELU_ALPHA),
    "gelu": _gelu,
    "leaky_relu": _leaky_relu,
    "silu": lambda x, op: x * sigmoid(x),
    "tanh": lambda x, op: np.tanh(x),
    "sigmoid": lambda x, op: sigmoid(x),
    "softmax": lambda x, op: softmax(x),
}


@register(ir.Activation)
def activation(op: ir.Activation, x: Array, ctx: Context) -> Array:
    return FUNCTIONS[op.function](x, op)
