"""The canonical IR: one frozen class per primitive op, every numeric convention explicit.

Shapes are channels-last and omit the batch axis: ``(features,)`` for flat tensors, ``(length,
channels)`` for 1-D signals and ``(height, width, channels)`` for images. Every op records its
output ``shape`` and the count ``params`` of its own weights and state (a residual's count
is the total of its children; :func:`normspec.ir.graph.count_params` splits trainable from
non-trainable).

Conventions fixed here, so that no backend inherits a framework default:

* padding is explicit ``(before, after)`` pairs per spatial axis;
* batch-norm ``momentum`` is the weight of the *new* batch statistic:
  ``running = (1 - momentum) * running + momentum * batch`` (PyTorch's convention; Keras and Flax
  use ``1 - momentum``);
* batch-norm ``running_var`` says which variance estimator updates the running variance:
  ``unbiased`` (divides by n - 1, as PyTorch and the original paper) or ``biased`` (divides by n,
  as Keras and Flax). Batch statistics used to normalize in training are always biased;
* all normalizations compute ``(x - mean) / sqrt(var + epsilon)`` with a two-pass variance;
* flatten and reshape act on the channels-last layout;
* initializers are explicit distributions with numbers, not names.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from normspec.ir.constraints import (
    Count,
    Epsilon,
    LayerName,
    Momentum,
    NonNegative,
    Positive,
    Rate,
    Size,
)

Shape = tuple[Size, ...]
Pair = tuple[NonNegative, NonNegative]


class Node(BaseModel):
    """Base of every IR class: frozen, unknown fields and non-finite numbers rejected.

    Validators are built on first use (``defer_build``), so a command pays only for the classes
    it meets; that is also when ``Residual`` resolves its forward reference to :data:`AnyOp`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


# --- initializers ------------------------------------------------------------------------------

MIN_TRUNCATED_MASS = 1e-3
"""A truncated normal must keep at least this much of its normal's probability, so drawing it
by rejection ends quickly."""


INIT_LIMIT = 3.4e38
"""Initial values are drawn within float32's range (it ends at 3.4028e38) whatever the model's
dtype: a larger one would be written as inf, or overflow while being drawn."""
NORMAL_REACH = 8.0
"""A normal initializer's ``mean ± NORMAL_REACH * std`` must stay within :data:`INIT_LIMIT`."""


def _within_limit(*values: float) -> None:
    for value in values:
        if not abs(value) <= INIT_LIMIT:
            raise ValueError(
                f"{value:g} is beyond the range an initial weight can take (±{INIT_LIMIT:g}, "
                "float32's largest value)"
            )


class Uniform(Node):
    distribution: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        _within_limit(self.low, self.high)
        return self


class Normal(Node):
    distribution: Literal["normal"] = "normal"
    mean: float
    std: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _in_range(self) -> Normal:
        _within_limit(self.mean - NORMAL_REACH * self.std, self.mean + NORMAL_REACH * self.std)
        return self


class TruncatedNormal(Node):
    """Normal(mean, std) restricted to [low, high] (absolute bounds)."""

    distribution: Literal["truncated_normal"] = "truncated_normal"
    mean: float
    std: Annotated[float, Field(gt=0)]
    low: float
    high: float

    @model_validator(mode="after")
    def _keeps_mass(self) -> TruncatedNormal:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        _within_limit(self.low, self.high, self.std)

        def cdf(v: float) -> float:
            return 0.5 * (1 + math.erf((v - self.mean) / (self.std * math.sqrt(2))))

        if cdf(self.high) - cdf(self.low) < MIN_TRUNCATED_MASS:
            raise ValueError(
                f"[{self.low}, {self.high}] keeps less than {MIN_TRUNCATED_MASS:.1%} of "
                f"Normal({self.mean}, {self.std}); put the bounds around the mean"
            )
        return self


class Constant(Node):
    distribution: Literal["constant"] = "constant"
    value: float

    @model_validator(mode="after")
    def _in_range(self) -> Constant:
        _within_limit(self.value)
        return self


Initializer = Annotated[
    Uniform | Normal | TruncatedNormal | Constant, Field(discriminator="distribution")
]


# --- ops ---------------------------------------------------------------------------------------


class Op(Node):
    """Base of every op. ``op`` is the discriminator and the key used in specs."""

    op: str
    name: LayerName
    shape: Shape
    params: Count = 0


class Standardize(Op):
    """Input normalization ``(x - mean) / std`` per channel (last axis), state not trainable.

    ``adapt: true`` means mean and std are fitted on training data (until then 0 and 1);
    otherwise ``mean`` and ``std`` hold the fixed values. ``epsilon`` floors the fitted std.
    """

    op: Literal["standardize"] = "standardize"
    adapt: bool
    mean: tuple[float, ...]
    std: tuple[Positive, ...]
    epsilon: Positive


class Rescale(Op):
    """Input rescaling ``x * scale + offset`` (e.g. scale 1/255)."""

    op: Literal["rescale"] = "rescale"
    scale: float
    offset: float


class Dense(Op):
    op: Literal["dense"] = "dense"
    units: Size
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer


class _Conv(Op):
    filters: Size
    kernel: Shape
    strides: Shape
    padding: tuple[Pair, ...]
    dilation: Shape
    groups: Size
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer


class Conv1D(_Conv):
    op: Literal["conv1d"] = "conv1d"


class Conv2D(_Conv):
    op: Literal["conv2d"] = "conv2d"


class _Pool(Op):
    pool: Shape
    strides: Shape
    padding: tuple[Pair, ...]


class MaxPool1D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool1d"] = "max_pool1d"


class MaxPool2D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool2d"] = "max_pool2d"


class AvgPool1D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool1d"] = "avg_pool1d"
    count_include_pad: bool


class AvgPool2D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool2d"] = "avg_pool2d"
    count_include_pad: bool


class GlobalAvgPool(Op):
    """Mean over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_avg_pool"] = "global_avg_pool"


class GlobalMaxPool(Op):
    """Max over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_max_pool"] = "global_max_pool"


class Flatten(Op):
    """Flattens in channels-last order: ``(H, W, C) -> (H*W*C,)`` with C fastest."""

    op: Literal["flatten"] = "flatten"


class Reshape(Op):
    """Reshape of the channels-last tensor (batch axis kept). Target is ``shape``."""

    op: Literal["reshape"] = "reshape"


class Dropout(Op):
    """Inverted dropout: kept values are scaled by 1 / (1 - rate) in training; identity in eval."""

    op: Literal["dropout"] = "dropout"
    rate: Rate


ActivationFunction = Literal[
    "relu", "elu", "selu", "gelu", "leaky_relu", "silu", "tanh", "sigmoid", "softmax"
]


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


class BatchNorm(Op):
    """Batch normalization over every axis but the channel axis."""

    op: Literal["batch_norm"] = "batch_norm"
    epsilon: Epsilon
    momentum: Momentum
    center: bool
    scale: bool
    running_var: Literal["unbiased", "biased"]


class LayerNorm(Op):
    """Normalizes each position over its channels (last axis); per-channel scale and shift."""

    op: Literal["layer_norm"] = "layer_norm"
    epsilon: Epsilon
    center: bool
    scale: bool


class GroupNorm(Op):
    """Splits channels into ``groups`` contiguous groups, normalizes each over space and group."""

    op: Literal["group_norm"] = "group_norm"
    groups: Size
    epsilon: Epsilon
    center: bool
    scale: bool


class InstanceNorm(Op):
    """Normalizes each channel of each sample over its spatial axes (group norm, groups = C)."""

    op: Literal["instance_norm"] = "instance_norm"
    epsilon: Epsilon
    center: bool
    scale: bool


class RMSNorm(Op):
    """``x / sqrt(mean(x^2 over channels) + epsilon) * scale``; no centering."""

    op: Literal["rms_norm"] = "rms_norm"
    epsilon: Epsilon
    scale: bool


class Residual(Op):
    """``body(x) + shortcut(x)``; an empty shortcut is the identity."""

    op: Literal["residual"] = "residual"
    body: tuple[AnyOp, ...]
    shortcut: tuple[AnyOp, ...]


AnyOp = Annotated[
    Standardize
    | Rescale
    | Dense
    | Conv1D
    | Conv2D
    | MaxPool1D
    | MaxPool2D
    | AvgPool1D
    | AvgPool2D
    | GlobalAvgPool
    | GlobalMaxPool
    | Flatten
    | Reshape
    | Dropout
    | Activation
    | BatchNorm
    | LayerNorm
    | GroupNorm
    | InstanceNorm
    | RMSNorm
    | Residual,
    Field(discriminator="op"),
]

OP_CLASSES: tuple[type[Op], ...] = (
    Standardize,
    Rescale,
    Dense,
    Conv1D,
    Conv2D,
    MaxPool1D,
    MaxPool2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAvgPool,
    GlobalMaxPool,
    Flatten,
    Reshape,
    Dropout,
    Activation,
    BatchNorm,
    LayerNorm,
    GroupNorm,
    InstanceNorm,
    RMSNorm,
    Residual,
)
"""Every concrete op class. Each backend has exactly one emitter per entry."""

NORM_OPS = (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm)
