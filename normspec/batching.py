"""Mini-batches in the same order for every backend: the order depends only on (seed, epoch).

The last partial batch is kept unless it is smaller than the smallest batch a spec may ask
for (:data:`normspec.ir.constraints.MIN_BATCH`: batch statistics need two samples).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from normspec.ir.constraints import MIN_BATCH


def batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, *, seed: int, epoch: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled mini-batches; the order depends only on (seed, epoch), never on the backend.
    There are :func:`batch_count` of them."""
    for idx in batch_indices(len(x), batch_size, seed=seed, epoch=epoch):
        yield x[idx], y[idx]


def batch_indices(samples: int, batch_size: int, *, seed: int, epoch: int) -> list[np.ndarray]:
    """The sample indices of each mini-batch of :func:`batches`, in order."""
    order = np.random.default_rng([seed, epoch]).permutation(samples)
    parts = (order[start : start + batch_size] for start in range(0, samples, batch_size))
    return [idx for idx in parts if len(idx) >= MIN_BATCH]


def batch_count(samples: int, batch_size: int) -> int:
    """How many batches :func:`batches` makes of ``samples``."""
    full, rest = divmod(samples, batch_size)
    return full + (rest >= MIN_BATCH)
