"""The framework-free reference interpreter of the canonical IR, in float64 numpy.

It is the oracle of every parity check: each backend's outputs are compared with it. Every op
class of :mod:`normspec.ir.ops` has one small kernel, registered by op class in
:data:`normspec.reference._core.KERNELS` (the ``activations``, ``layers``, ``norms`` and
``spatial`` modules), or in :data:`~normspec.reference._core.JOINS` for a join (``joins``). It
runs the graph view of the spec (:mod:`normspec.ir.nodes`): each node on the values it names, a
residual as its branches' nodes and an ``add``.
"""

from __future__ import annotations

import numpy as np

from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT
from normspec.ir.output_checks import returns_logits

# Importing the kernel modules registers their kernels.
from normspec.reference import activations, joins, layers, norms, spatial  # noqa: F401
from normspec.reference._core import JOINS, KERNELS, Array, Context, run_node
from normspec.weights import check_weights

__all__ = ["JOINS", "KERNELS", "forward", "init_batch"]


def forward(
    spec: CanonicalSpec, weights: dict[str, np.ndarray], x: np.ndarray, *, train: bool
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Run the batch ``x`` ``(N, *spec.input.shape)`` through ``spec`` in float64.

    Returns ``(outputs, new_weights)``. ``outputs`` holds every node's output keyed by its name,
    in node order (:attr:`CanonicalSpec.nodes`: a residual's children and its join too), plus
    ``"output"``, the model's output: the final value, or what enters the final softmax or
    sigmoid when the model returns logits (``output: {logits: true}``). ``new_weights`` is a
    float64 copy of ``weights``; with ``train=True`` every batch norm normalizes with the batch
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
    values = node_values(spec, batch, ctx)
    outputs = {node.name: values[node.name] for node in spec.nodes}
    last = spec.nodes[-1] if spec.nodes else None
    logits = last is not None and returns_logits(spec)
    outputs["output"] = values[last.inputs[0] if logits and last else spec.output_name]
    return outputs, ctx.weights


def node_values(spec: CanonicalSpec, batch: Array, ctx: Context) -> dict[str, Array]:
    """The value of every node of ``spec`` (and of ``input``), by name."""
    values = {INPUT: batch}
    for node in spec.nodes:
        values[node.name] = run_node(node, [values[name] for name in node.inputs], ctx)
    return values


def init_batch(spec: CanonicalSpec, n: int, seed: int) -> np.ndarray:
    """A deterministic standard-normal batch ``(n, *spec.input.shape)`` in the spec's dtype."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *spec.input.shape)).astype(spec.input.dtype)
