"""What happened in a training run, named from its measurements (definitions in the README):

* ``diverged``: the training loss became NaN or infinite;
* ``stuck``: the final training accuracy (on the training batches, with batch statistics) is
  within :data:`CHANCE_BAND` of chance: the network did not learn (a history without training
  accuracy is judged on its validation accuracy);
* ``eval-mode lag``: the network learned (training accuracy above the band), validation with
  the batch statistics is at least :data:`LAG_GAP` more accurate than validation with the
  running statistics: the running statistics lag the weights, the model is not stuck;
* ``slow start``: validation accuracy (eval mode) within the band after the first epoch, above
  it at the end;
* ``trained``: none of these.

Without a validation split, only ``diverged``, ``stuck`` and ``trained`` can be told apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from normspec.ir.graph import CanonicalSpec
from normspec.run import metrics
from normspec.run.data import Dataset
from normspec.run.train import History

CHANCE_BAND = 0.02
"""An accuracy at most this far above chance (the majority class) counts as chance."""
LAG_GAP = 0.1
"""How much more accurate validation with batch statistics must be to call it eval-mode lag."""

FAILED = ("diverged", "stuck")
"""The outcomes in which the network did not train."""


@dataclass(frozen=True)
class Outcome:
    label: str
    detail: str
    """The measurements behind the label, in words."""

    @property
    def failed(self) -> bool:
        return self.label in FAILED


def _num(value: float) -> str:
    return f"{value:.3f}"


def outcome(history: History, chance: float) -> Outcome:
    """The outcome of one run (see the module docstring)."""
    rows = history.epochs
    if not rows:
        return Outcome("trained", "no epoch")
    bad = next((r for r in rows if not math.isfinite(r["loss"])), None)
    if bad is not None:
        return Outcome("diverged", f"training loss not finite from epoch {int(bad['epoch'])}")
    last, band = rows[-1], chance + CHANCE_BAND
    train_acc = last.get("accuracy", math.nan)
    learned, which = (train_acc, "training") if math.isfinite(train_acc) else (
        last.get("val_accuracy", math.nan), "validation")  # fmt: skip
    if math.isfinite(learned) and learned <= band:
        return Outcome("stuck", f"{which} accuracy {_num(learned)}, chance {_num(chance)}")
    val, val_batch = (
        last.get("val_accuracy", math.nan),
        last.get("val_train_mode_accuracy", math.nan),
    )
    if math.isfinite(val) and math.isfinite(val_batch) and val_batch - val >= LAG_GAP:
        return Outcome(
            "eval-mode lag",
            f"validation accuracy {_num(val)} with the running statistics, {_num(val_batch)} "
            f"with batch statistics; training accuracy {_num(train_acc)}",
        )
    first = rows[0].get("val_accuracy", math.nan)
    if len(rows) > 1 and math.isfinite(first) and first <= band < val:
        return Outcome(
            "slow start",
            f"validation accuracy {_num(first)} after epoch 1 (chance {_num(chance)}), "
            f"{_num(val)} at the end",
        )
    if math.isfinite(val) or math.isfinite(train_acc):
        shown, which = (val, "validation") if math.isfinite(val) else (train_acc, "training")
        return Outcome("trained", f"{which} accuracy {_num(shown)}, chance {_num(chance)}")
    loss = last.get("val_loss", math.nan)
    loss, which = (loss, "validation") if math.isfinite(loss) else (last["loss"], "training")
    return Outcome("trained", f"{which} loss {loss:.4g}")


def run_outcome(spec: CanonicalSpec, history: History, data: Dataset) -> Outcome:
    """The outcome of a run of ``spec`` on ``data``: chance is the majority class of the
    validation split (of the training split without one)."""
    labels = data.y_val if len(data.x_val) else data.y_train
    return outcome(history, metrics.chance_accuracy(spec, labels))


def summary(outcomes: Sequence[Outcome]) -> str:
    """``trained``, or e.g. ``2/3 eval-mode lag (…), 1/3 trained``: the label of every run,
    the detail of the first run with each label."""
    if all(o.label == "trained" for o in outcomes):
        return "trained"
    parts = []
    for label in dict.fromkeys(o.label for o in outcomes):
        same = [o for o in outcomes if o.label == label]
        detail = "" if label == "trained" else f" ({same[0].detail})"
        parts.append(f"{len(same)}/{len(outcomes)} {label}{detail}")
    return "; ".join(parts)


SATURATED_SHARE = 0.9
"""A tanh, sigmoid or softmax op counts as saturated when this share of its outputs is."""
DEAD_SHARE = 0.5
"""An op counts as mostly dead when this share of its units is zero for the whole probe."""


def diagnostic_findings(rows: Sequence[tuple[int, str, str, float]]) -> list[str]:
    """What the diagnostics show, in words: saturated activations (from which step on, if
    they stay so) and ops whose units are mostly dead at the end."""
    if not rows:
        return []
    steps = sorted({row[0] for row in rows})
    value = {(step, op, stat): v for step, op, stat, v in rows}
    ops = list(dict.fromkeys(op for _, op, _, _ in rows))
    found = []
    for op in ops:
        saturated = [value.get((step, op, "saturated_fraction")) for step in steps]
        if saturated[-1] is not None and saturated[-1] >= SATURATED_SHARE:
            since: int | None = None  # the first step of the last saturated stretch
            for step, share in zip(steps, saturated, strict=True):
                saturated_here = share is not None and share >= SATURATED_SHARE
                since = (since if since is not None else step) if saturated_here else None
            found.append(f"{saturated[-1]:.0%} of {op} saturated from step {since}")
        dead = value.get((steps[-1], op, "dead_fraction"))
        if dead is not None and dead >= DEAD_SHARE:
            found.append(f"{dead:.0%} of {op}'s units dead at step {steps[-1]}")
    return found
