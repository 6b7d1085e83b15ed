"""How a network's output meets its loss: the head a loss reads as logits, whether the model
returns those logits itself (``output: {logits: true}``), and the likely mistakes there, which
``validate`` and ``train`` report as warnings."""

from __future__ import annotations

from normspec.ir import ops as ir
from normspec.ir.graph import LOGIT_HEADS, CanonicalSpec


def logits_head(spec: CanonicalSpec) -> ir.Activation | None:
    """The final softmax (cross-entropy) or sigmoid (binary cross-entropy) of ``spec``, whose
    input every backend's loss reads, stably, as logits; None when the output itself is what
    the loss reads."""
    last = spec.nodes[-1].op if spec.nodes else None
    wanted = LOGIT_HEADS.get(spec.train.loss)
    if isinstance(last, ir.Activation) and last.function == wanted:
        return last
    return None


def returns_logits(spec: CanonicalSpec) -> bool:
    """Whether the model returns logits, the input of its :func:`logits_head` (the spec says
    ``output: {logits: true}``), and leaves that activation to the loss and to its
    probabilities function."""
    return spec.output.logits and logits_head(spec) is not None


def applied_head(spec: CanonicalSpec) -> ir.Activation | None:
    """The final softmax or sigmoid the model's output has been through, whose input the loss
    reads as logits; None when that output is what the loss reads (logits or not)."""
    return None if spec.output.logits else logits_head(spec)


def logits_problem(spec: CanonicalSpec) -> str | None:
    """Why ``output: {logits: true}`` does not fit ``spec``, or None."""
    if not spec.output.logits or logits_head(spec) is not None:
        return None
    last = spec.nodes[-1].op if spec.nodes else None
    ends = (
        f"{last.function} ({last.name})"
        if isinstance(last, ir.Activation)
        else f"{last.op} ({last.name})"
        if last is not None
        else "its input"
    )
    return (
        "logits: true makes the model return what enters its final softmax (under loss "
        "cross_entropy) or sigmoid (binary_cross_entropy), but this network ends in "
        f"{ends} and its loss is {spec.train.loss}: its output is what the loss reads "
        "already; remove logits: true, or end the last layer in that activation"
    )


def output_warnings(spec: CanonicalSpec) -> list[str]:
    """Likely mistakes in how the output meets the loss: a softmax under a binary
    cross-entropy, or a last layer that inherited ``relu`` from ``defaults`` under a
    cross-entropy, which then reads rectified logits. A valid spec may still have them."""
    last = spec.nodes[-1].op if spec.nodes else None
    loss = spec.train.loss
    wanted = LOGIT_HEADS.get(loss)
    if wanted is None or not isinstance(last, ir.Activation) or logits_head(spec) is not None:
        return []
    if last.function == "softmax" and loss == "binary_cross_entropy":
        units = last.shape[-1] if last.shape else 1
        return [
            f"the network ends in a softmax over {units} units ({last.name}) but the loss is "
            "binary_cross_entropy, which takes each output as the logit of an independent "
            "yes/no; use loss: cross_entropy for one class per sample, or end in activation: "
            "sigmoid or linear for independent labels"
        ]
    return [
        f"the network ends in {last.function} ({last.name}), so {loss} takes its outputs as "
        f"logits; end the last layer with activation: {wanted} or linear (a layer without one "
        "inherits defaults.activation)"
    ]
