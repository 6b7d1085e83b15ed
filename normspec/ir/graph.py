"""The canonical spec: input, the op graph and the training settings, plus walks over it."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, model_validator

from normspec.ir import ops as ir
from normspec.ir.constraints import (
    BatchSize,
    Beta,
    Epochs,
    Identifier,
    LayerName,
    LearningRate,
    Positive,
    Seed,
    ValidationSplit,
)
from normspec.ir.nodes import INPUT, GraphNode, check_graph, uses_of
from normspec.ir.ops import Node, Shape, WeightSpec, size

FORMAT_VERSION = 2
LOGIT_HEADS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
"""The activation whose input a loss reads as logits, when a spec ends in it."""


class InputSpec(Node):
    shape: Shape
    dtype: Literal["float32", "float64"]


class SGD(Node):
    """``v = momentum * v + g; p -= learning_rate * v`` (PyTorch's form; Nesterov optional)."""

    kind: Literal["sgd"] = "sgd"
    learning_rate: LearningRate
    momentum: Beta
    nesterov: bool


class Adam(Node):
    """Adam with bias correction; ``epsilon`` is added to sqrt(v_hat) (PyTorch/optax form)."""

    kind: Literal["adam"] = "adam"
    learning_rate: LearningRate
    beta1: Beta
    beta2: Beta
    epsilon: Positive


Optimizer = Annotated[SGD | Adam, Field(discriminator="kind")]


class TrainSpec(Node):
    loss: Literal["cross_entropy", "binary_cross_entropy", "mean_squared_error"]
    optimizer: Optimizer
    batch_size: BatchSize
    epochs: Epochs
    seed: Seed
    validation_split: ValidationSplit


class OutputSpec(Node):
    """What the model returns: ``logits`` is what enters the final softmax or sigmoid (its
    loss's head, :func:`normspec.ir.output_checks.logits_head`), which the loss and the
    probabilities functions then apply; otherwise the last op's output."""

    logits: bool = False


Scalar = bool | int | float | str
Argument = Scalar | tuple[Scalar, ...]


class BlockArguments(Node):
    """What a use of a block of the spec language gave it: the use (a scope's ``(use,
    block)`` pair, :mod:`normspec.ir.nodes`), the block, and each parameter's value that is a
    number, a name or a list of them. The backends name a block class's parameters after them."""

    use: LayerName
    block: LayerName
    args: tuple[tuple[Identifier, Argument], ...] = ()


class CanonicalSpec(Node):
    """The fully explicit, framework-free form of a spec: its ``nodes`` in dependency order
    (:mod:`normspec.ir.nodes`), each naming the values it reads; the last one is the output.
    Frozen; compare by :attr:`hash`."""

    normspec: Literal[2] = 2
    name: Identifier
    input: InputSpec
    nodes: tuple[GraphNode, ...]
    uses: tuple[BlockArguments, ...] = ()
    """The arguments of the uses of blocks (written when there are some)."""
    output: OutputSpec = OutputSpec()
    """Written in the canonical form when it is not the default, so that specs without it keep
    their canonical text and hash."""
    train: TrainSpec

    @model_validator(mode="after")
    def _wired(self) -> CanonicalSpec:
        check_graph(self.nodes, self.input.shape)
        return self

    @model_validator(mode="after")
    def _uses_fit(self) -> CanonicalSpec:
        """Each ``uses`` entry is of a use the nodes' scopes have, once, and each use has one."""
        pairs = {use[-2:] for node in self.nodes for use in uses_of(node.scope)}
        seen: set[str] = set()
        for entry in self.uses:
            if (entry.use, entry.block) not in pairs or entry.use in seen:
                raise ValueError(
                    f"'{entry.use}' is not a use of the block '{entry.block}' in the nodes' "
                    "scopes, or is listed twice"
                )
            seen.add(entry.use)
        missing = sorted(use for use, _ in pairs if use not in seen)
        if missing:
            raise ValueError(f"the use '{missing[0]}' of a block has no entry in uses")
        return self

    @model_validator(mode="after")
    def _logits_fit(self) -> CanonicalSpec:
        """``output.logits`` needs the final activation the loss reads logits through."""
        last, wanted = self.nodes[-1].op if self.nodes else None, LOGIT_HEADS.get(self.train.loss)
        if self.output.logits and not (isinstance(last, ir.Activation) and last.function == wanted):
            raise ValueError(
                "output.logits: the model returns what enters its final softmax (under loss "
                "cross_entropy) or sigmoid (binary_cross_entropy); this network ends otherwise"
            )
        return self

    @cached_property
    def hash(self) -> str:
        """``sha256:<hex>`` of the canonical JSON form (format version 2)."""
        from normspec.ir.serialize import data_hash, to_data

        return data_hash(to_data(self))

    @cached_property
    def version1_hash(self) -> str | None:
        """The hash the same model had in format version 1, which weight files saved before
        version 2 record (:func:`normspec.ir.serialize.to_data_v1`); None for a graph version 1
        cannot write."""
        from normspec.ir.serialize import data_hash, to_data_v1

        data = to_data_v1(self)
        return None if data is None else data_hash(data)

    @cached_property
    def flat_hash(self) -> str | None:
        """For a spec with uses of blocks, the hash of the form that wrote each use's nodes
        out with its arguments under ``uses:``, which files saved before definitions
        (``blocks:``) were written record; None without uses."""
        from normspec.ir.serialize import data_hash, to_data

        return data_hash(to_data(self, definitions=False)) if self.uses else None

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every hash a file made for this model may record: :attr:`hash`, then
        :attr:`flat_hash` and :attr:`version1_hash` where there are."""
        return tuple(h for h in (self.hash, self.flat_hash, self.version1_hash) if h is not None)

    @property
    def ops(self) -> tuple[ir.Op, ...]:
        """Every node's op, in node order."""
        return tuple(node.op for node in self.nodes)

    @property
    def output_shape(self) -> Shape:
        return self.nodes[-1].shape if self.nodes else self.input.shape

    @property
    def top_nodes(self) -> tuple[GraphNode, ...]:
        """The nodes at nesting depth 0: those whose outputs a model's layer outputs hold
        (a residual's ``add`` for the residual)."""
        return tuple(node for node in self.nodes if node.depth == 0)

    @property
    def output_name(self) -> str:
        """The name of the node whose value the network returns (``input`` for no nodes)."""
        return self.nodes[-1].name if self.nodes else INPUT


def op_weights(op: ir.Op, input_shape: Shape) -> list[WeightSpec]:
    """Canonical weight tensors of one op; see
    :meth:`normspec.ir.ops.Op.weights` and the roles in :mod:`normspec.ir.roles`.

    Layouts: dense kernel ``(in, out)``; conv kernel ``(*kernel, in / groups, out)``; every
    per-channel vector ``(C,)``.
    """
    return op.weights(input_shape)


def weight_specs(spec: CanonicalSpec) -> list[WeightSpec]:
    """Every canonical weight tensor of ``spec``, in node order."""
    return [w for node in spec.nodes for w in op_weights(node.op, node.input_shape)]


def count_params(spec: CanonicalSpec) -> tuple[int, int]:
    """``(trainable, non_trainable)`` parameter counts."""
    trainable = non_trainable = 0
    for w in weight_specs(spec):
        if w.trainable:
            trainable += size(w.shape)
        else:
            non_trainable += size(w.shape)
    return trainable, non_trainable
