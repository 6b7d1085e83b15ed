"""Building and driving the emitted Flax NNX model: weights in and out, forward passes.

The model is always the emitted source executed, so what users import is what is tested.
JAX's 64-bit mode, a process-wide flag, is left alone for float32 specs; the emitted module of
a float64 spec turns it on when it is executed, as it does in users' code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from normspec.backends.flax.emitter import WEIGHT_MAPS
from normspec.backends.flax.module import FlaxModule, generate
from normspec.backends.weight_maps import slot
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import returns_logits
from normspec.weights import Weights, check_weights


@lru_cache(maxsize=128)
def module_of(spec: CanonicalSpec) -> FlaxModule:
    return generate(spec)


@lru_cache(maxsize=128)
def model_class(spec: CanonicalSpec) -> type[nnx.Module]:
    """The class the emitted module defines (executed once per spec, so ``nnx.jit`` reuses
    its compilations across models of the same spec)."""
    module = module_of(spec)
    namespace: dict[str, object] = {"__name__": f"normspec_flax_{spec.name}"}
    exec(compile(module.source, f"<normspec:{spec.name}>", "exec"), namespace)
    cls = namespace[module.class_name]
    assert isinstance(cls, type) and issubclass(cls, nnx.Module)
    return cls


def build(spec: CanonicalSpec, seed: int = 0) -> nnx.Module:
    """Execute the emitted module and construct the model with ``nnx.Rngs(seed)``."""
    cls: Any = model_class(spec)
    return cls(rngs=nnx.Rngs(jax.random.key(seed, impl="rbg")))


def layer_at(model: nnx.Module, path: str) -> Any:
    """The layer at ``path`` (an attribute, or ``block.attribute`` inside a block)."""
    layer: Any = model
    for part in path.split("."):
        layer = getattr(layer, part)
    return layer


def _variables(model: nnx.Module, spec: CanonicalSpec) -> Iterator[tuple[str, nnx.Variable]]:
    """Every canonical weight key with the nnx variable holding it, in canonical order."""
    names = module_of(spec).names
    for node in spec.nodes:
        if not node.op.weights(node.input_shape):
            continue
        layer = layer_at(model, names[node.op.name])
        for w in node.op.weights(node.input_shape):
            yield w.key, getattr(layer, slot(WEIGHT_MAPS, node.op, w.role.name).attribute)


def trainable_paths(spec: CanonicalSpec) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The canonical key of every trainable weight and its path in the model's state (the
    layer's attribute, inside its block's in a block, then the variable's)."""
    names = module_of(spec).names
    for node in spec.nodes:
        for w in node.op.weights(node.input_shape):
            if w.trainable:
                attribute = slot(WEIGHT_MAPS, node.op, w.role.name).attribute
                yield w.key, (*names[node.op.name].split("."), attribute)


def set_weights(model: nnx.Module, spec: CanonicalSpec, weights: Weights) -> None:
    check_weights(spec, weights)
    for key, variable in _variables(model, spec):
        variable.set_value(jnp.asarray(weights[key], dtype=variable[...].dtype))
    names = module_of(spec).names
    for node in spec.nodes:
        if isinstance(node.op, ir.Standardize):  # checked now, not in every compiled function
            layer = layer_at(model, names[node.op.name])
            layer.checked = layer.fitted


def get_weights(model: nnx.Module, spec: CanonicalSpec) -> Weights:
    dtype = np.dtype(spec.input.dtype)
    return {key: np.array(variable[...], dtype=dtype) for key, variable in _variables(model, spec)}


@contextmanager
def mode(model: nnx.Module, *, train: bool, dropout: bool) -> Iterator[None]:
    """Batch statistics (``train``) or running ones, dropout on or off, for the duration;
    the model's own mode is restored afterwards. The attributes are those ``.train()`` and
    ``.eval()`` set."""
    saved: list[tuple[Any, str, Any]] = []
    for _, module in nnx.iter_modules(model):
        for attr, value in (("use_running_average", not train), ("deterministic", not dropout)):
            if hasattr(module, attr):
                saved.append((module, attr, getattr(module, attr)))
                setattr(module, attr, value)
    try:
        yield
    finally:
        for module, attr, value in saved:
            setattr(module, attr, value)


HEADS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "softmax": lambda z: nnx.softmax(z, axis=-1),
    "sigmoid": nnx.sigmoid,
}
"""The final activations as the emitted model applies them (in ``__call__``, or in
``probabilities`` when it returns logits)."""


@nnx.jit
def apply(model: nnx.Module, x: jax.Array) -> jax.Array:
    """The model's output alone, compiled (nothing is sown outside ``nnx.capture``)."""
    return model(x)


@nnx.jit
def _captured(model: nnx.Module, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The output and every sown layer output (the last one sown under each name)."""
    output, sown = nnx.capture(model, nnx.Intermediate)(x)
    return output, _flat(sown)


def _flat(sown: Any, prefix: str = "") -> dict[str, jax.Array]:
    """The last value sown under each name, by path (``block.layer`` inside a block)."""
    out: dict[str, jax.Array] = {}
    for name, values in sown.items():
        if isinstance(values, nnx.Variable):
            out[prefix + str(name)] = values.get_value()[-1]
        else:
            out.update(_flat(values, f"{prefix}{name}."))
    return out


def forward(
    model: nnx.Module, spec: CanonicalSpec, x: np.ndarray, *, train: bool, nodes: bool = True
) -> dict[str, np.ndarray]:
    """Every node's output (and ``"output"``, the model's), captured with ``nnx.capture`` and
    compiled with ``nnx.jit`` (a model that returns logits leaves its final activation to
    ``probabilities``: it is applied to them here); ``"output"`` alone with ``nodes=False``,
    from the model's call without capture. In
    train mode batch statistics are used and running statistics updated; dropout is off in
    both."""
    inputs = jnp.asarray(np.asarray(x, dtype=spec.input.dtype))
    with mode(model, train=train, dropout=False):
        if not nodes:  # nothing to capture: a smaller program to compile and run
            return {"output": np.asarray(apply(model, inputs))}
        output, sown = _captured(model, inputs)
    names = module_of(spec).names
    sown_nodes = spec.nodes[:-1] if returns_logits(spec) else spec.nodes
    result = {node.name: np.asarray(sown[names[node.name]]) for node in sown_nodes}
    head = spec.nodes[-1].op if spec.nodes else None
    if returns_logits(spec) and isinstance(head, ir.Activation):  # as ``probabilities`` does
        result[head.name] = np.asarray(HEADS[head.function](output))
    result["output"] = np.asarray(output)
    return result
