"""Ops that keep or move the values: flatten, reshape, dropout, element-wise activations."""

from __future__ import annotations

from typing import Literal

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
    "relu", "relu6", "elu", "selu", "gelu", "leaky_relu", "silu", "tanh", "sigmoid", "softmax"
]
"""``relu6`` is ``min(max(x, 0), 6)`` (PyTorch's ``nn.ReLU6``, Keras' ``ReLU(max_value=6)``,
``jax.nn.relu6``)."""


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
