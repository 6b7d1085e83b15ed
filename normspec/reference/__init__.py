"""The framework-free reference interpreter of the canonical IR, in float64 numpy.

It is the oracle of every parity check: each backend's outputs are compared with it. Every op
class of :mod:`normspec.ir.ops` has one small kernel, registered by op class in
:data:`normspec.reference._core.KERNELS` (see the ``activations``, ``layers``, ``norms`` and
``spatial`` modules); residuals recurse into their body and shortcut.
"""

from __future__ import annotations

import numpy as np

from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import returns_logits

# Importing the kernel modules registers their kernels.
from normspec.reference import activations, layers, norms, spatial  # noqa: F401
from normspec.reference._core import KERNELS, Array, Context, run_op
from normspec.weights import check_weights

__all__ = ["KERNELS", "forward", "init_batch"]


def forward(
    spec: CanonicalSpec, weights: dict[str, np.ndarray], x: np.ndarray, *, train: bool
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Run the batch ``x`` ``(N, *spec.input.shape)`` through ``spec`` in float64.

    Returns ``(outputs, new_weights)``. ``outputs`` holds every top-level op's output keyed by
    op name, in ``spec.layers`` order, plus ``"output"``, the model's output: the final value,
    or what enters the final softmax or sigmoid when the model returns logits (``output:
    {logits: true}``). ``new_weights`` is a float64 copy of ``weights``; with ``train=True``
    every batch norm normalizes with the batch
    statistics and its ``<op>.mean`` / ``<op>.var`` running statistics in it are updated
    (``running = (1 - momentum) * running + momentum * batch``, the variance per the op's
    ``running_var`` estimator). Dropout is the identity in both modes.
    """
    check_weights(spec, weights)
    batch = np.asarray(x, dtype=np.float64)
    if batch.shape[1:] != spec.input.shape:
        raise ValueError(
            f"input batch has shape {batch.shape}; spec '{spec.name}' expects "
            f"(N, {', '.join(map(str, spec.input.shape))})"
        )
    ctx = Context({k: np.array(v, dtype=np.float64) for k, v in weights.items()}, train)
    outputs: dict[str, Array] = {}
    entering = batch
    for op in spec.layers:
        entering, batch = batch, run_op(op, batch, ctx)
        outputs[op.name] = batch
    outputs["output"] = entering if returns_logits(spec) else batch
    return outputs, ctx.weights


def init_batch(spec: CanonicalSpec, n: int, seed: int) -> np.ndarray:
    """A deterministic standard-normal batch ``(n, *spec.input.shape)`` in the spec's dtype."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *spec.input.shape)).astype(spec.input.dtype)
