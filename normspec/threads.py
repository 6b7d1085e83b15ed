"""How many intra-op threads a training run uses (PyTorch and TensorFlow; XLA sizes its own).

``--threads N`` is used as given. By default (``auto``) a small network trains on one thread
and a larger one on the framework's own count (one per core). Measured with
``benchmarks/bench_threads.py`` (PyTorch epochs of ``fit`` on 2 cores, one thread's time over
two threads'): up to ``digits_cnn`` (21.9 MFLOPs of forward pass a batch) a second thread gains
at most 1.2x on an idle machine (an MLP on digits 0.78, ``digits_bn_dropout`` 0.77,
``digits_cnn`` 1.19) and costs 2 to 2.5x beside one busy process (0.39 to 0.47), each thread
waiting for the one that shares its core. From ``lenet5`` at batch 32 (27.1 MFLOPs) up it
gains 1.5 to 1.85x on an idle machine, though it still costs 1.6 to 3x beside a busy process.
The count is chosen from the spec and the batch size alone, never from the machine's load, so
that a run is reproducible: float32 results depend on the thread count (batch-norm sums are
added in another order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from normspec.costs import spec_cost
from normspec.ir.graph import CanonicalSpec

__all__ = [
    "AUTO",
    "FRAMEWORK",
    "ONE_THREAD_BELOW",
    "Requested",
    "Threads",
    "check",
    "choose",
    "given",
]

AUTO = "auto"
ONE_THREAD_BELOW = 24_000_000
"""Forward FLOPs of one training batch (:mod:`normspec.costs`) below which ``auto`` picks one
thread."""

Requested = int | Literal["auto"] | None
"""A count, ``"auto"``, or None: the framework's own."""


@dataclass(frozen=True)
class Threads:
    """The thread count of a run: ``count`` None keeps the framework's own."""

    count: int | None
    reason: str
    explicit: bool = False
    """Asked for by count (``--threads N``): a framework that cannot apply it is an error."""


FRAMEWORK = Threads(None, "the framework's own")


def given(count: int) -> Threads:
    """``count`` threads, as asked for by ``--threads``."""
    return Threads(count, f"--threads {count}", explicit=True)


def check(requested: object) -> Requested:
    """``requested`` if it is a count >= 1, ``"auto"`` or None; a ValueError otherwise."""
    if requested is None:
        return None
    if requested == AUTO:
        return "auto"
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"threads must be a count >= 1, 'auto' or None, not {requested!r}")
    return requested


def choose(requested: Requested, spec: CanonicalSpec, batch_size: int) -> Threads:
    """The count for training ``spec`` in batches of ``batch_size``."""
    requested = check(requested)
    if requested is None:
        return FRAMEWORK
    if isinstance(requested, int):
        return given(requested)
    flops = spec_cost(spec).flops * batch_size
    if flops < ONE_THREAD_BELOW:
        return Threads(
            1, f"auto: {flops / 1e6:.1f} MFLOPs a batch, below {ONE_THREAD_BELOW / 1e6:.0f}"
        )
    return Threads(None, f"auto: {flops / 1e6:.1f} MFLOPs a batch, the framework's own")
