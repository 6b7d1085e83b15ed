"""Where training runs of one spec in several backends start to differ, measured rather than
assumed: every top-level op's output on the first training batch, from the same starting
weights, in train mode (batch statistics), compared between backends; then how the train-loss
gap grew over the epochs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from normspec.batching import batches
from normspec.ir.graph import CanonicalSpec
from normspec.parity import error
from normspec.run.data import Dataset
from normspec.run.train import History, RunSettings
from normspec.weights import Weights


@dataclass(frozen=True)
class OpGap:
    op: str
    kind: str
    gap: float
    """Largest relative difference of the op's output between any two backends."""


def first_step_gaps(
    spec: CanonicalSpec,
    backends: Sequence[str],
    weights: Weights,
    data: Dataset,
    settings: RunSettings,
) -> list[OpGap]:
    """Per top-level op, in order, how far the backends' outputs are apart on the first
    training batch (dropout off, batch statistics on)."""
    from normspec.backends import get_backend

    x, _ = next(batches(data.x_train, data.y_train, settings.batch_size, seed=settings.seed,
                        epoch=0))  # fmt: skip
    x = np.asarray(x, dtype=spec.input.dtype)
    outputs = {}
    for name in backends:
        backend = get_backend(name)
        model = backend.build(spec)
        backend.set_weights(model, spec, weights)
        outputs[name] = backend.forward(model, spec, x, train=True)
    gaps = []
    for node in spec.top_nodes:
        have = [outputs[name][node.name] for name in backends if node.name in outputs[name]]
        worst = max((error(a, b)[1] for i, a in enumerate(have) for b in have[i + 1 :]),
                    default=0.0)  # fmt: skip
        gaps.append(OpGap(node.name, node.op.op, worst))
    return gaps


def loss_gaps(histories: Mapping[str, History]) -> list[float]:
    """Per epoch, the largest difference of the train loss between two backends."""
    runs = list(histories.values())
    epochs = min((len(h.epochs) for h in runs), default=0)
    return [
        max(h.epochs[e]["loss"] for h in runs) - min(h.epochs[e]["loss"] for h in runs)
        for e in range(epochs)
    ]


def drift_paragraph(gaps: Sequence[OpGap], histories: Mapping[str, History]) -> str:
    """What was measured, in words."""
    where = "On the first training batch, from the same starting weights, in train mode"
    first = next((g for g in gaps if g.gap > 0), None)
    if first is None:
        text = f"{where}, every op's output is bit-identical in all backends."
    else:
        largest = max(gaps, key=lambda g: g.gap)
        text = (
            f"{where}, the first op whose output differs between backends is `{first.op}` "
            f"({first.kind}, largest relative difference {first.gap:.2g}); the largest "
            f"difference is at `{largest.op}` ({largest.kind}, {largest.gap:.2g})."
        )
    per_epoch = loss_gaps(histories)
    if len(per_epoch) >= 2:
        text += (
            f" The train-loss gap between backends was {per_epoch[0]:.2g} after epoch 1 and "
            f"{per_epoch[-1]:.2g} after epoch {len(per_epoch)}"
            f" (largest: {max(per_epoch):.2g})."
        )
    return text + (
        " Each step applies the same update in every backend (`normspec compare` checks one "
        "step); differences come from rounding, which training can amplify. "
        "`--dtype float64` shows how much of the gap is float32 rounding.\n"
    )
