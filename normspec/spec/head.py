"""The network's output layer (its head): which layer it is, and what it got.

The head is the last top-level dense or conv layer when every layer after it is free of
parameters (activations, dropout, flatten, reshape, pooling). It takes ``activation``,
``kernel_init`` and ``bias_init`` from ``defaults`` like any other layer, but not ``norm``:
nobody wants a batch norm before a softmax, so the head has a norm only when it says so
itself. ``validate`` and ``show`` print what it got (:meth:`HeadNote.line`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from normspec.errors import Path, format_path
from normspec.ir import ops as ir

if TYPE_CHECKING:
    from normspec.spec.branches import Lowered

HEAD_KINDS = frozenset({"dense", "conv1d", "conv2d"})
TRAILING = frozenset(
    {
        "activation", "dropout", "flatten", "reshape", "max_pool1d", "max_pool2d",
        "avg_pool1d", "avg_pool2d", "global_avg_pool", "global_max_pool",
    }
)  # fmt: skip
"""Layers that may follow the head: none of them has parameters."""


def layer_kind(item: Any) -> str | None:
    """The kind of a layer item as written (``flatten`` or ``{dense: 10}``), else None."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and len(item) == 1:
        key = next(iter(item))
        return key if isinstance(key, str) else None
    return None


def head_index(items: list[Any]) -> int | None:
    """Index of the head in the top-level layer list, or None when the network ends in
    something else (a norm layer, a residual)."""
    for i in range(len(items) - 1, -1, -1):
        kind = layer_kind(items[i])
        if kind in HEAD_KINDS:
            return i
        if kind not in TRAILING:
            return None
    return None


@dataclass(frozen=True)
class HeadNote:
    """What the head lowered to, and where its norm came from."""

    path: Path
    """``("layers", i, kind)``."""
    name: str
    steps: tuple[str, ...]
    """Its ops in order: ``dense``, ``batch_norm``, the activation's function, ``dropout``."""
    norm: str
    said: bool
    """The layer itself sets ``norm``."""
    default_norm: str
    logits: str | None = None
    """The final activation whose input the model returns (``output: {logits: true}``)."""

    def line(self) -> str:
        """``head: layers[4].dense (dense_2): dense, softmax; no norm (defaults.norm 'batch'
        does not reach the output layer; write norm: batch on it to have one)``, and whether
        the model returns its logits."""
        if self.logits is None:
            return self._norm_line()
        return self._norm_line() + f"; the model returns what enters its final {self.logits}"

    def _norm_line(self) -> str:
        where = f"head: {format_path(self.path)} ({self.name}): {', '.join(self.steps)}; "
        if self.said:
            norm = "no norm" if self.norm == "none" else f"{self.norm} norm"
            return where + f"{norm}, as the layer says"
        if self.default_norm == "none":
            return where + "no norm"
        return where + (
            f"no norm (defaults.norm '{self.default_norm}' does not reach the output layer; "
            f"write norm: {self.default_norm} on it to have one)"
        )


def steps(ops: Sequence[Lowered]) -> tuple[str, ...]:
    return tuple(op.function if isinstance(op, ir.Activation) else op.op for op in ops)
