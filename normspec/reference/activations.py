"""Element-wise activations (softmax over the channel axis), in float64.

Each function's formula is the IR's (``normspec.ir.ops.tensor.FORMULAS``); this module gives it
numpy's array functions and the few numpy lacks (an accurate ``erf``, an overflow-free
``sigmoid``, ``softmax`` over the last axis).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from normspec.ir import ops as ir
from normspec.ir.ops.tensor import FORMULAS, PARAMETERS
from normspec.reference._core import Array, Context, register

# math.erf is correctly rounded to within an ulp or so; numpy has no erf of its own and the core
# must not depend on scipy, so it is applied element by element.
_erf_object = np.frompyfunc(math.erf, 1, 1)


def erf(x: Array) -> Array:
    """The error function, element-wise, to float64 accuracy."""
    return np.asarray(_erf_object(x), dtype=np.float64)


def sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))`` without overflow: ``exp(-log(1 + exp(-x)))``."""
    return np.exp(-np.logaddexp(0.0, -x))


def softmax(x: Array) -> Array:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


ARRAY_FUNCTIONS = SimpleNamespace(
    maximum=np.maximum,
    minimum=np.minimum,
    where=np.where,
    expm1=np.expm1,
    tanh=np.tanh,
    erf=erf,
    sigmoid=sigmoid,
    softmax=softmax,
)
"""What a formula's ``m`` holds."""


@register(ir.Activation)
def activation(op: ir.Activation, x: Array, ctx: Context) -> Array:
    field = PARAMETERS.get(op.function)
    if field is not None and getattr(op, field) is None:
        raise ValueError(f"activation '{op.name}': {op.function} needs an explicit {field}")
    return np.asarray(FORMULAS[op.function](ARRAY_FUNCTIONS, x, op), dtype=np.float64)
