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
