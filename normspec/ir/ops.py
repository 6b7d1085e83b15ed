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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, TypeVar, Union

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
from normspec.ir.registry import Registry
from normspec.ir.roles import BIAS, KERNEL, MEAN, SCALE, SHIFT, STD, VAR, Role

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

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        """The op's own canonical weight tensors (not its residual children's), in order, for
        an input of ``input_shape``. Ops without weights have none."""
        return []

    def _weight(
        self,
        role: Role,
        shape: Shape,
        init: Uniform | Normal | TruncatedNormal | Constant,
        fan_in: int,
        values: tuple[float, ...] | None = None,
    ) -> WeightSpec:
        return WeightSpec(f"{self.name}.{role.name}", role, shape, init, fan_in, values)

    def _affine(self, input_shape: Shape, *, scale: bool, center: bool) -> list[WeightSpec]:
        """A normalization's per-channel ``scale`` and ``shift``, whichever it has."""
        c = _channels(input_shape)
        out = [self._weight(SCALE, (c,), Constant(value=1.0), c)] if scale else []
        return out + ([self._weight(SHIFT, (c,), Constant(value=0.0), c)] if center else [])


@dataclass(frozen=True)
class WeightSpec:
    """One tensor of the canonical weights: ``key`` is ``<op name>.<role>``."""

    key: str
    role: Role
    shape: Shape
    init: Uniform | Normal | TruncatedNormal | Constant
    fan_in: int
    values: tuple[float, ...] | None = None
    """Exact initial values, when the spec fixes them (fixed input standardization)."""

    @property
    def trainable(self) -> bool:
        return self.role.trainable


def _channels(input_shape: Shape) -> int:
    return input_shape[-1] if input_shape else 1


OPS: Registry[str, type[Op]] = Registry("op")
"""The ``op`` key of every concrete op class -> that class; filled by :func:`register_op`."""

OpClass = TypeVar("OpClass", bound=type[Op])


def register_op(cls: OpClass) -> OpClass:
    """Register a concrete op class under its ``op`` key (its discriminator); duplicates raise."""
    op_class: type[Op] = cls
    OPS.add(op_class.model_fields["op"].default, op_class)
    return cls


@register_op
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

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        return [
            self._weight(MEAN, (c,), Constant(value=0.0), c, self.mean),
            self._weight(STD, (c,), Constant(value=1.0), c, self.std),
        ]


@register_op
class Rescale(Op):
    """Input rescaling ``x * scale + offset`` (e.g. scale 1/255)."""

    op: Literal["rescale"] = "rescale"
    scale: float
    offset: float


@register_op
class Dense(Op):
    op: Literal["dense"] = "dense"
    units: Size
    use_bias: bool
    kernel_init: Initializer
    bias_init: Initializer

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        out = [self._weight(KERNEL, (c, self.units), self.kernel_init, c)]
        if self.use_bias:
            out.append(self._weight(BIAS, (self.units,), self.bias_init, c))
        return out


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

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        per_group = _channels(input_shape) // self.groups
        fan_in = per_group * math.prod(self.kernel)
        shape = (*self.kernel, per_group, self.filters)
        out = [self._weight(KERNEL, shape, self.kernel_init, fan_in)]
        if self.use_bias:
            out.append(self._weight(BIAS, (self.filters,), self.bias_init, fan_in))
        return out


@register_op
class Conv1D(_Conv):
    op: Literal["conv1d"] = "conv1d"


@register_op
class Conv2D(_Conv):
    op: Literal["conv2d"] = "conv2d"


class _Pool(Op):
    pool: Shape
    strides: Shape
    padding: tuple[Pair, ...]


@register_op
class MaxPool1D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool1d"] = "max_pool1d"


@register_op
class MaxPool2D(_Pool):
    """Padded cells never win the max (they act as -inf)."""

    op: Literal["max_pool2d"] = "max_pool2d"


@register_op
class AvgPool1D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool1d"] = "avg_pool1d"
    count_include_pad: bool


@register_op
class AvgPool2D(_Pool):
    """``count_include_pad``: whether padded cells count in the divisor."""

    op: Literal["avg_pool2d"] = "avg_pool2d"
    count_include_pad: bool


@register_op
class GlobalAvgPool(Op):
    """Mean over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_avg_pool"] = "global_avg_pool"


@register_op
class GlobalMaxPool(Op):
    """Max over every spatial axis: ``(..., C) -> (C,)``."""

    op: Literal["global_max_pool"] = "global_max_pool"


@register_op
class Flatten(Op):
    """Flattens in channels-last order: ``(H, W, C) -> (H*W*C,)`` with C fastest."""

    op: Literal["flatten"] = "flatten"


@register_op
class Reshape(Op):
    """Reshape of the channels-last tensor (batch axis kept). Target is ``shape``."""

    op: Literal["reshape"] = "reshape"


@register_op
class Dropout(Op):
    """Inverted dropout: kept values are scaled by 1 / (1 - rate) in training; identity in eval."""

    op: Literal["dropout"] = "dropout"
    rate: Rate


ActivationFunction = Literal[
    "relu", "elu", "selu", "gelu", "leaky_relu", "silu", "tanh", "sigmoid", "softmax"
]


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


@register_op
class BatchNorm(Op):
    """Batch normalization over every axis but the channel axis."""

    op: Literal["batch_norm"] = "batch_norm"
    epsilon: Epsilon
    momentum: Momentum
    center: bool
    scale: bool
    running_var: Literal["unbiased", "biased"]

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        return [
            *self._affine(input_shape, scale=self.scale, center=self.center),
            self._weight(MEAN, (c,), Constant(value=0.0), c),
            self._weight(VAR, (c,), Constant(value=1.0), c),
        ]


@register_op
class LayerNorm(Op):
    """Normalizes each position over its channels (last axis); per-channel scale and shift."""

    op: Literal["layer_norm"] = "layer_norm"
    epsilon: Epsilon
    center: bool
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class GroupNorm(Op):
    """Splits channels into ``groups`` contiguous groups, normalizes each over space and group."""

    op: Literal["group_norm"] = "group_norm"
    groups: Size
    epsilon: Epsilon
    center: bool
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class InstanceNorm(Op):
    """Normalizes each channel of each sample over its spatial axes (group norm, groups = C)."""

    op: Literal["instance_norm"] = "instance_norm"
    epsilon: Epsilon
    center: bool
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=self.center)


@register_op
class RMSNorm(Op):
    """``x / sqrt(mean(x^2 over channels) + epsilon) * scale``; no centering."""

    op: Literal["rms_norm"] = "rms_norm"
    epsilon: Epsilon
    scale: bool

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        return self._affine(input_shape, scale=self.scale, center=False)


@register_op
class Residual(Op):
    """``body(x) + shortcut(x)``; an empty shortcut is the identity."""

    op: Literal["residual"] = "residual"
    body: tuple[AnyOp, ...]
    shortcut: tuple[AnyOp, ...]


OP_CLASSES: tuple[type[Op], ...] = tuple(OPS.values())
"""Every concrete op class, in registration order. Each backend has exactly one emitter per
entry."""

if TYPE_CHECKING:
    AnyOp: TypeAlias = Op
else:
    AnyOp = Annotated[Union[OP_CLASSES], Field(discriminator="op")]  # noqa: UP007
    """Any registered op, told apart by its ``op`` field."""

NORM_OPS = (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm)
