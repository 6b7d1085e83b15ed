"""The base of the IR's ops: the frozen node, initial-value distributions, :class:`Op` with what
every op declares (output shape, weights by role, cost, ``show`` detail) and the op registry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from normspec.ir.constraints import Count, LayerName, NonNegative, Size
from normspec.ir.registry import Registry
from normspec.ir.roles import SCALE, SHIFT, Role

Shape = tuple[Size, ...]
Pair = tuple[NonNegative, NonNegative]


class Node(BaseModel):
    """Base of every IR class: frozen, unknown fields and non-finite numbers rejected.

    Validators are built on first use (``defer_build``), so a command pays only for the classes
    it meets.
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
        """The op's canonical weight tensors, in order, for an input of ``input_shape``. Ops
        without weights have none."""
        return []

    def infer_shape(self, input_shape: Shape) -> Shape:
        """The output shape for an input of ``input_shape`` (by default the input's: the ops
        that compute element by element or per channel keep it)."""
        return input_shape

    def cost(self, input_shape: Shape) -> Cost:
        """The op's own multiply-accumulates and FLOPs per sample (:mod:`normspec.costs`): by
        default one FLOP per input element and no MACs."""
        return Cost(0, size(input_shape))

    def detail(self) -> str:
        """Its settings in a few words, for the ``show`` table."""
        return ""

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


@dataclass(frozen=True)
class Cost:
    """Multiply-accumulates and FLOPs of one forward pass of one sample."""

    macs: int = 0
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.macs + other.macs, self.flops + other.flops)


def size(shape: tuple[int, ...]) -> int:
    """Number of elements of a tensor of ``shape``."""
    return math.prod(shape)


def _channels(input_shape: Shape) -> int:
    return input_shape[-1] if input_shape else 1


def axes_text(values: tuple[int, ...]) -> str:
    """``3x3`` for ``(3, 3)``."""
    return "x".join(map(str, values))


def pairs_text(padding: tuple[tuple[int, int], ...]) -> str:
    """``(0,1),(1,1)`` for ``((0, 1), (1, 1))``."""
    return ",".join(f"({a},{b})" for a, b in padding)


OPS: Registry[str, type[Op]] = Registry("op")
"""The ``op`` key of every concrete op class -> that class; filled by :func:`register_op`."""

OpClass = TypeVar("OpClass", bound=type[Op])


def register_op(cls: OpClass) -> OpClass:
    """Register a concrete op class under its ``op`` key (its discriminator); duplicates raise."""
    op_class: type[Op] = cls
    OPS.add(op_class.model_fields["op"].default, op_class)
    return cls
