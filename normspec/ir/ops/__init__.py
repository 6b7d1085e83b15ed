"""The canonical IR: one frozen class per primitive op, every numeric convention explicit.

Shapes are channels-last and omit the batch axis: ``(features,)`` for flat tensors, ``(length,
channels)`` for 1-D signals and ``(height, width, channels)`` for images. Every op records its
output ``shape`` and the count ``params`` of its own weights and state
(:func:`normspec.ir.graph.count_params` splits trainable from non-trainable).

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

from typing import TYPE_CHECKING, Annotated, TypeAlias, Union

from pydantic import Field

from normspec.ir.ops.base import (
    INIT_LIMIT,
    MIN_TRUNCATED_MASS,
    NORMAL_REACH,
    OPS,
    Constant,
    Cost,
    Initializer,
    Node,
    Normal,
    Op,
    Pair,
    Shape,
    TruncatedNormal,
    Uniform,
    WeightSpec,
    register_op,
    size,
)
from normspec.ir.ops.inputs import Rescale, Standardize
from normspec.ir.ops.joins import Add, Concat, Join, Multiply
from normspec.ir.ops.layers import Conv1D, Conv2D, Dense
from normspec.ir.ops.norms import (
    NORM_OPS,
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
)
from normspec.ir.ops.pools import (
    AvgPool1D,
    AvgPool2D,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool1D,
    MaxPool2D,
)
from normspec.ir.ops.tensor import Activation, ActivationFunction, Dropout, Flatten, Reshape

__all__ = [
    "INIT_LIMIT",
    "MIN_TRUNCATED_MASS",
    "NORMAL_REACH",
    "NORM_OPS",
    "OPS",
    "OP_CLASSES",
    "Activation",
    "ActivationFunction",
    "Add",
    "AnyOp",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Concat",
    "Constant",
    "Conv1D",
    "Conv2D",
    "Cost",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GroupNorm",
    "Initializer",
    "InstanceNorm",
    "Join",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "Multiply",
    "Node",
    "Normal",
    "Op",
    "Pair",
    "RMSNorm",
    "Rescale",
    "Reshape",
    "Shape",
    "Standardize",
    "TruncatedNormal",
    "Uniform",
    "WeightSpec",
    "register_op",
    "size",
]


OP_CLASSES: tuple[type[Op], ...] = tuple(OPS.values())
"""Every concrete op class, in registration order. Each backend has exactly one emitter per
entry."""

if TYPE_CHECKING:
    AnyOp: TypeAlias = Op
else:
    AnyOp = Annotated[Union[OP_CLASSES], Field(discriminator="op")]  # noqa: UP007
    """Any registered op, told apart by its ``op`` field."""
