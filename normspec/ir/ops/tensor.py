"""Ops that keep or move the values: flatten, reshape, dropout, element-wise activations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from normspec.ir.constraints import Rate
from normspec.ir.ops.base import Cost, Op, Shape, register_op, size


@register_op
class Flatten(Op):
    """Flattens in channels-last order: ``(H, W, C) -> (H*W*C,)`` with C fastest."""

    op: Literal["flatten"] = "flatten"

    def infer_shape(self, input_shape: Shape) -> Shape:
        return (size(input_shape),)

    def cost(self, input_shape: Shape) -> Cost:
        return Cost()


@register_op
class Reshape(Op):
    """Reshape of the channels-last tensor (batch axis kept). Target is ``shape``."""

    op: Literal["reshape"] = "reshape"

    def infer_shape(self, input_shape: Shape) -> Shape:
        return self.shape if size(self.shape) == size(input_shape) else ()

    def cost(self, input_shape: Shape) -> Cost:
        return Cost()


@register_op
class Dropout(Op):
    """Inverted dropout: kept values are scaled by 1 / (1 - rate) in training; identity in eval."""

    op: Literal["dropout"] = "dropout"
    rate: Rate

    def cost(self, input_shape: Shape) -> Cost:
        return Cost()  # the identity at inference

    def detail(self) -> str:
        return f"rate={self.rate:g}"


ActivationFunction = Literal[
    "relu",
    "relu6",
    "hard_swish",
    "elu",
    "selu",
    "gelu",
    "leaky_relu",
    "silu",
    "tanh",
    "sigmoid",
    "softmax",
]
"""The element-wise functions; ``FORMULAS`` defines each one."""

Formula = Callable[[Any, Any, "Activation"], Any]
"""``formula(m, x, op)``: the function of ``x`` written with the array functions of ``m``
(numpy's names, plus ``erf``, ``sigmoid`` and ``softmax`` over the last axis), so the reference
evaluates it in float64 and the core imports no array library."""

FORMULAS: dict[str, Formula] = {
    "relu": lambda m, x, op: m.maximum(x, 0.0),
    # PyTorch nn.ReLU6, Keras ReLU(max_value=6), jax.nn.relu6.
    "relu6": lambda m, x, op: m.minimum(m.maximum(x, 0.0), 6.0),
    # x * relu6(x + 3) / 6: PyTorch nn.Hardswish, Keras 3 "hard_swish" (whose hard_sigmoid is
    # relu6(x + 3) / 6, where tf.keras 2's was 0.2 * x + 0.5), jax.nn.hard_swish.
    "hard_swish": lambda m, x, op: x * m.minimum(m.maximum(x + 3.0, 0.0), 6.0) / 6.0,
    # expm1 of the clipped value: accurate near 0, no overflow for large x.
    "elu": lambda m, x, op: m.where(x > 0, x, op.alpha * m.expm1(m.minimum(x, 0.0))),
    "selu": lambda m, x, op: (
        SELU_SCALE * m.where(x > 0, x, SELU_ALPHA * m.expm1(m.minimum(x, 0.0)))
    ),
    "gelu": lambda m, x, op: (
        0.5 * x * (1.0 + m.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
        if op.approximate == "tanh"
        else 0.5 * x * (1.0 + m.erf(x / math.sqrt(2.0)))
    ),
    "leaky_relu": lambda m, x, op: m.where(x >= 0, x, op.negative_slope * x),
    "silu": lambda m, x, op: x * m.sigmoid(x),
    "tanh": lambda m, x, op: m.tanh(x),
    "sigmoid": lambda m, x, op: m.sigmoid(x),
    "softmax": lambda m, x, op: m.softmax(x),
}

PARAMETERS: dict[str, str] = {"elu": "alpha", "leaky_relu": "negative_slope", "gelu": "approximate"}
"""The one field each parametrized function reads; the others read none."""

# Constants of Klambauer et al. (2017), to the digits PyTorch, Keras and Flax use.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@register_op
class Activation(Op):
    """Element-wise activation (softmax: over the channel axis).

    ``alpha`` only for elu; ``negative_slope`` only for leaky_relu; ``approximate`` only for gelu
    (``none`` = exact erf form, ``tanh`` = tanh approximation).
    """

    op: Literal["activation"] = "activation"
    function: ActivationFunction
    alpha: float | None = None
    negative_slope: float | None = None
    approximate: Literal["none", "tanh"] | None = None

    def detail(self) -> str:
        extra = self.alpha or self.negative_slope or self.approximate
        return self.function + (f"({extra})" if extra is not None else "")
