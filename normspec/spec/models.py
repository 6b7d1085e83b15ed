"""The user-facing spec language: Pydantic models that accept the shorthands people write.

A spec is a YAML mapping::

    normspec: 1                 # format version
    name: cifar_cnn
    input: {shape: [32, 32, 3], normalize: standardize}
    defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
    layers:
      - conv2d: 32              # shorthand for {filters: 32}
      - max_pool2d: 2
      - flatten
      - dense: {units: 10, activation: softmax, norm: none}
    train: {optimizer: adam, epochs: 10}

Layers are single-key mappings ``{kind: body}`` (or a bare kind such as ``flatten``); the body
is validated by the model registered for that kind in :data:`LAYER_KINDS`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from normspec.ir import ops as ir
from normspec.ir.constraints import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_NAME,
    MAX_SEED,
    MAX_SIZE,
    MIN_BATCH,
    check_identifier,
    check_layer_name,
)
from normspec.loader.syntax import SHORTHAND_FIELDS

_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def number(value: Any) -> Any:
    """Numbers with an exponent as YAML 1.2 reads them: ``1e-5`` is a float, which YAML 1.1
    (and so PyYAML) reads as text. Booleans and other text are left for strict validation to
    refuse."""
    if isinstance(value, str) and _EXPONENT_FLOAT.match(value):
        return float(value)
    return value


def _version(value: Any) -> Any:
    if type(value) is not int:  # not True, not 1.0
        raise ValueError(
            "the format version is the integer 1 (a spec with layers; 2 is the canonical form, "
            "with its nodes written out)"
        )
    return value


Float = Annotated[float, BeforeValidator(number)]
"""A finite float; an int is accepted, a bool or a string is not (``1e-5`` is a number)."""
Name = Annotated[str, Field(max_length=MAX_NAME), AfterValidator(check_layer_name)]
Size = Annotated[int, Field(ge=1, le=MAX_SIZE)]
NonNegative = Annotated[int, Field(ge=0, le=MAX_SIZE)]
SizeOrTuple = Size | list[Size]
Rate = Annotated[Float, Field(ge=0.0, lt=1.0)]
Epsilon = Annotated[Float, Field(gt=0.0, le=1.0)]
Momentum = Annotated[Float, Field(gt=0.0, le=1.0)]
Positive = Annotated[Float, Field(gt=0)]
Padding = Literal["valid", "same"] | NonNegative | list[NonNegative] | list[list[NonNegative]]


class Model(BaseModel):
    """Base of the spec models: unknown keys, non-finite numbers and wrong types are errors.

    Validation is strict: ``units: 3.0``, ``units: true`` or ``use_bias: "yes"`` are refused
    instead of being converted. Validators are built on first use (``defer_build``), for the
    layer kinds a spec has.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, defer_build=True
    )


# --- building blocks ---------------------------------------------------------------------------

ActivationName = Literal["linear", ir.ActivationFunction]
"""``linear`` (no activation) and every function of the IR."""
InitializerName = Literal[
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
    "lecun_uniform", "lecun_normal", "torch_default", "zeros", "ones",
]  # fmt: skip
InitializerSpec = (
    InitializerName
    | Annotated[
        ir.Uniform | ir.Normal | ir.TruncatedNormal | ir.Constant,
        Field(discriminator="distribution"),
    ]
)
NormKind = Literal["batch", "layer", "group", "instance", "rms", "none"]
NormPosition = Literal["before_activation", "after_activation", "none"]
OrderToken = Literal["layer", "dense", "conv", "norm", "act", "activation", "dropout"]


class ActivationSpec(Model):
    """``function`` plus its one parameter where it has one (elu alpha, leaky slope, gelu form)."""

    function: ActivationName
    alpha: Float | None = None
    negative_slope: Float | None = None
    approximate: Literal["none", "tanh"] | None = None


class NormSpec(Model):
    """Which normalization, where it goes relative to the activation, and its parameters.

    ``momentum`` is the weight of the new batch statistic (PyTorch's convention, default 0.1).
    ``running_var`` is the estimator stored in the running variance (default ``unbiased``).
    """

    kind: NormKind
    position: NormPosition | None = None
    epsilon: Epsilon | None = None
    momentum: Momentum | None = None
    center: bool | None = None
    scale: bool | None = None
    running_var: Literal["unbiased", "biased"] | None = None
    groups: Size | None = None


ActivationField = ActivationName | ActivationSpec
NormField = NormKind | NormSpec


class Defaults(Model):
    """Applied to every dense/conv layer unless the layer says otherwise; the network's output
    layer (its head, see :mod:`normspec.spec.head`) takes all but ``norm``."""

    activation: ActivationField = "linear"
    norm: NormField = "none"
    kernel_init: InitializerSpec = "glorot_uniform"
    bias_init: InitializerSpec = "zeros"


class NormalizeSpec(Model):
    """Input normalization.

    ``standardize``: ``(x - mean) / std`` per channel, fitted on training data (``adapt``) or
    given as ``mean``/``std``; ``fixed``: the same with given values; ``rescale``:
    ``x * scale + offset``.
    """

    kind: Literal["none", "standardize", "fixed", "rescale"]
    name: Name | None = None
    adapt: bool | None = None
    mean: Float | list[Float] | None = None
    std: Positive | list[Positive] | None = None
    epsilon: Epsilon | None = None
    scale: Float | None = None
    offset: Float | None = None


class InputSection(Model):
    shape: Annotated[list[Size], Field(min_length=1, max_length=3)]
    dtype: Literal["float32", "float64"] = "float32"
    normalize: Literal["none", "standardize", "rescale"] | NormalizeSpec = "none"


LearningRate = Annotated[Float, Field(gt=0, le=MAX_LEARNING_RATE)]


class SGDSpec(Model):
    kind: Literal["sgd", "momentum"]
    learning_rate: LearningRate | None = None
    momentum: Annotated[Float, Field(ge=0, lt=1)] | None = None
    nesterov: bool = False


class AdamSpec(Model):
    kind: Literal["adam"]
    learning_rate: LearningRate | None = None
    beta1: Annotated[Float, Field(ge=0, lt=1)] = 0.9
    beta2: Annotated[Float, Field(ge=0, lt=1)] = 0.999
    epsilon: Positive = 1e-8


class TrainSection(Model):
    loss: Literal["auto", "cross_entropy", "binary_cross_entropy", "mean_squared_error"] = "auto"
    optimizer: (
        Literal["sgd", "momentum", "adam"]
        | Annotated[SGDSpec | AdamSpec, Field(discriminator="kind")]
    ) = "adam"
    batch_size: Annotated[int, Field(ge=MIN_BATCH, le=MAX_BATCH)] = 32
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 10
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    validation_split: Annotated[Float, Field(ge=0.0, lt=1.0)] = 0.2
    """Share of the data held out for validation metrics (fitted statistics never see it);
    0 trains on every sample and reports no validation metrics."""


class OutputSection(Model):
    """What the model returns. ``logits: true``: what enters its final softmax (under
    ``cross_entropy``) or sigmoid (``binary_cross_entropy``), for the stock losses that read
    logits; the loss and each framework's probabilities function apply that activation."""

    logits: bool = False


SpecName = Annotated[
    str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=MAX_NAME),
    AfterValidator(check_identifier),
]  # fmt: skip
"""The spec's name: the class name of the generated model is made of it."""


class SpecHeader(Model):
    """The top-level sections. ``layers`` is only checked to be a list here; its items are
    parsed one by one against :data:`LAYER_KINDS`."""

    normspec: Annotated[Literal[1], BeforeValidator(_version)]
    name: SpecName = "model"
    input: InputSection
    defaults: Defaults = Defaults()
    blocks: dict[str, Any] = {}
    layers: Annotated[list[Any], Field(min_length=1)]
    output: OutputSection = OutputSection()
    train: TrainSection = TrainSection()


ParamName = Annotated[str, AfterValidator(check_identifier)]


def _one_parameter(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) != 1:
        raise ValueError("a parameter with a default is one key: {name: default}")
    return value


class BlockDefinition(Model):
    """A block: its parameters (``filters``, or ``{strides: 1}`` with a default) and its
    layers, where ``$filters`` stands for the parameter's value (:mod:`normspec.spec.blocks`)."""

    params: list[ParamName | Annotated[dict[ParamName, Any], AfterValidator(_one_parameter)]] = []
    layers: Annotated[list[Any], Field(min_length=1)]


# --- layers ------------------------------------------------------------------------------------


Reference = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
"""The name of a layer read by another (``input`` for the spec's input)."""


class LayerBase(Model):
    """Fields every layer accepts. ``shape``/``params``, when given, are checked. ``inputs``:
    the layer it reads by name (by default the one before it; top-level list only)."""

    name: Name | None = None
    inputs: Reference | Annotated[list[Reference], Field(min_length=1)] | None = None
    shape: list[int] | None = None
    params: Annotated[int, Field(ge=0)] | None = None


class Block(LayerBase):
    """A dense or conv layer with its normalization, activation and dropout.

    ``order`` overrides ``norm.position``: e.g. ``[conv, norm, act, dropout]``.
    ``use_bias: auto`` drops the bias when a batch norm directly follows.
    """

    activation: ActivationField | None = None
    norm: NormField | None = None
    dropout: Rate | None = None
    order: list[OrderToken] | None = None
    use_bias: Literal["auto"] | bool = "auto"
    kernel_init: InitializerSpec | None = None
    bias_init: InitializerSpec | None = None


class DenseLayer(Block):
    units: Size


class ConvLayer(Block):
    filters: Size
    kernel: SizeOrTuple = 3
    strides: SizeOrTuple = 1
    padding: Padding = "valid"
    dilation: SizeOrTuple = 1
    groups: Size = 1


class MaxPoolLayer(LayerBase):
    pool: SizeOrTuple = 2
    strides: SizeOrTuple | None = None
    padding: Padding = "valid"


class AvgPoolLayer(MaxPoolLayer):
    count_include_pad: bool = False


class PlainLayer(LayerBase):
    """Layers without options: flatten, global pooling."""


class ReshapeLayer(LayerBase):
    shape: Annotated[list[int], Field(min_length=1, max_length=3)]


class DropoutLayer(LayerBase):
    rate: Rate


class ActivationLayer(LayerBase, ActivationSpec):
    pass


class BatchNormLayer(LayerBase):
    epsilon: Epsilon | None = None
    momentum: Momentum | None = None
    center: bool | None = None
    scale: bool | None = None
    running_var: Literal["unbiased", "biased"] | None = None


class LayerNormLayer(LayerBase):
    epsilon: Epsilon | None = None
    center: bool | None = None
    scale: bool | None = None


class GroupNormLayer(LayerNormLayer):
    groups: Size | None = None


class RMSNormLayer(LayerBase):
    epsilon: Epsilon | None = None
    scale: bool | None = None


class ShortcutLayer(LayerBase):
    """``body(x) + shortcut(x)``. ``shortcut``: ``auto`` (identity when shapes match, else a
    1x1 conv projection with the default norm), ``identity``, ``projection`` or a layer list."""

    body: Annotated[list[Any], Field(min_length=1)]
    shortcut: Literal["auto", "identity", "projection"] | list[Any] = "auto"


class BasicBlockLayer(LayerBase):
    """A ResNet basic block: two ``kernel`` convs, in ``post`` (v1: conv-norm-act ... add, act)
    or ``pre`` (v2: norm-act-conv ... add) activation style, projected when shapes change."""

    filters: Size
    strides: Size = 1
    kernel: Size = 3
    style: Literal["post", "pre"] = "post"
    activation: ActivationField = "relu"
    norm: NormField | None = None


class JoinLayer(LayerBase):
    """Two or more layers joined, read by name: ``- add: [conv_a, conv_b]`` (their sum),
    ``multiply`` (their product; a gate ``(C,)`` is broadcast over the spatial axes), ``concat``
    (side by side along the channel axis)."""

    inputs: Annotated[list[Reference], Field(min_length=2)]


LAYER_KINDS: dict[str, tuple[type[LayerBase], str | None]] = {
    "dense": (DenseLayer, "units"),
    "conv1d": (ConvLayer, "filters"),
    "conv2d": (ConvLayer, "filters"),
    "max_pool1d": (MaxPoolLayer, "pool"),
    "max_pool2d": (MaxPoolLayer, "pool"),
    "avg_pool1d": (AvgPoolLayer, "pool"),
    "avg_pool2d": (AvgPoolLayer, "pool"),
    "global_avg_pool": (PlainLayer, None),
    "global_max_pool": (PlainLayer, None),
    "flatten": (PlainLayer, None),
    "reshape": (ReshapeLayer, "shape"),
    "dropout": (DropoutLayer, "rate"),
    "activation": (ActivationLayer, "function"),
    "batch_norm": (BatchNormLayer, None),
    "layer_norm": (LayerNormLayer, None),
    "group_norm": (GroupNormLayer, "groups"),
    "instance_norm": (LayerNormLayer, None),
    "rms_norm": (RMSNormLayer, None),
    "residual": (ShortcutLayer, None),
    "residual_block": (BasicBlockLayer, "filters"),
    "add": (JoinLayer, "inputs"),
    "multiply": (JoinLayer, "inputs"),
    "concat": (JoinLayer, "inputs"),
}
"""Layer kind -> (body model, field a scalar shorthand fills)."""

SHORTHAND_FIELDS.update({kind: field for kind, (_, field) in LAYER_KINDS.items() if field})
