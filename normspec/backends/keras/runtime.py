"""Building and driving the emitted Keras model: weights in and out, forward passes.

Imported through :func:`normspec.backends.keras.load`, which sets the TensorFlow
environment defaults before Keras is imported. The model is always the emitted source
executed, so what users import is what is tested.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import keras
import numpy as np

from normspec.backends.keras.emitter import WEIGHT_MAPS
from normspec.backends.keras.module import KerasModule, generate
from normspec.backends.weight_maps import slot
from normspec.errors import BackendError
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import returns_logits
from normspec.weights import Weights, check_weights

if keras.backend.backend() != "tensorflow":
    raise BackendError(
        f"the keras backend runs Keras on TensorFlow, but Keras was loaded with the "
        f"'{keras.backend.backend()}' backend; set KERAS_BACKEND=tensorflow"
    )


@lru_cache(maxsize=128)
def module_of(spec: CanonicalSpec) -> KerasModule:
    return generate(spec)


def _executed(spec: CanonicalSpec) -> dict[str, Any]:
    """The namespace of the emitted module, executed."""
    namespace: dict[str, Any] = {"__name__": f"normspec_keras_{spec.name}"}
    exec(compile(module_of(spec).source, f"<normspec:{spec.name}>", "exec"), namespace)
    return namespace


def build(spec: CanonicalSpec) -> keras.Model:
    """Execute the emitted module and call its builder."""
    model = _executed(spec)[module_of(spec).builder]()
    assert isinstance(model, keras.Model)
    return model


@lru_cache(maxsize=128)
def _probability_model(spec: CanonicalSpec) -> Any:
    """The emitted ``probability_model`` of a spec whose model returns logits."""
    name = module_of(spec).probability_model
    assert name is not None
    return _executed(spec)[name]


def _variables(model: keras.Model, spec: CanonicalSpec) -> Iterator[tuple[str, keras.Variable]]:
    """Every canonical weight key with the Keras variable holding it, in canonical order."""
    for node in spec.nodes:
        for w in node.op.weights(node.input_shape):
            where = slot(WEIGHT_MAPS, node.op, w.role.name)
            yield w.key, getattr(model.get_layer(node.op.name), where.attribute)


def trainable_variables(
    model: keras.Model, spec: CanonicalSpec
) -> list[tuple[str, keras.Variable]]:
    """The canonical key and Keras variable of every weight the optimizer updates."""
    trainable = {w.key for n in spec.nodes for w in n.op.weights(n.input_shape) if w.trainable}
    return [(key, variable) for key, variable in _variables(model, spec) if key in trainable]


def set_weights(model: keras.Model, spec: CanonicalSpec, weights: Weights) -> None:
    check_weights(spec, weights)
    for key, variable in _variables(model, spec):
        variable.assign(np.asarray(weights[key], dtype=variable.dtype))
    for node in spec.nodes:
        if isinstance(node.op, ir.Standardize):
            model.get_layer(node.op.name).fitted = True  # its statistics are set now


def get_weights(model: keras.Model, spec: CanonicalSpec) -> Weights:
    dtype = np.dtype(spec.input.dtype)
    return {
        key: np.array(keras.ops.convert_to_numpy(variable), dtype=dtype)
        for key, variable in _variables(model, spec)
    }


@contextmanager
def dropout_disabled(model: keras.Model) -> Iterator[None]:
    """Dropout rates set to 0 for the duration (a Keras Dropout reads its rate per call)."""
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    rates = [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    try:
        yield
    finally:
        for layer, rate in zip(dropouts, rates, strict=True):
            layer.rate = rate


_PROBES: weakref.WeakKeyDictionary[keras.Model, keras.Model] = weakref.WeakKeyDictionary()


def _probe(model: keras.Model, spec: CanonicalSpec) -> keras.Model:
    """A model over the same layers whose outputs are every op's output and the model's
    (``output``); for a model that returns logits, over its probability model."""
    if model not in _PROBES:
        names = module_of(spec).output_layers
        whole = _probability_model(spec)(model) if returns_logits(spec) else model
        outputs = {op: whole.get_layer(layer).output for op, layer in names.items()}
        outputs["output"] = model.outputs[0]
        _PROBES[model] = keras.Model(inputs=model.inputs, outputs=outputs)
    return _PROBES[model]


@contextmanager
def full_precision() -> Iterator[None]:
    """float32 matrix products and convolutions in full float32 for the duration: TensorFlow
    uses TF32 on recent NVIDIA GPUs by default, which parity cannot tolerate."""
    import tensorflow as tf

    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(enabled)


_CALLS: weakref.WeakKeyDictionary[keras.Model, dict[bool, Any]] = weakref.WeakKeyDictionary()


def _compiled_call(model: keras.Model, train: bool) -> Any:
    """``model(x, training=train)`` as a ``tf.function``, one per model and mode, as Keras' own
    fit and predict run the model (it holds the model weakly: the cache keeps no model alive).
    Dropout is traced disabled, as :func:`forward` calls it."""
    import tensorflow as tf

    calls = _CALLS.setdefault(model, {})
    if train not in calls:
        ref = weakref.ref(model)

        def call(x: Any) -> Any:
            held = ref()
            assert held is not None
            return held(x, training=train)

        calls[train] = tf.function(call, reduce_retracing=True)
    return calls[train]


def forward(
    model: keras.Model, spec: CanonicalSpec, x: np.ndarray, *, train: bool, nodes: bool = True
) -> dict[str, np.ndarray]:
    """Every node's output, from the probe model run eagerly, and ``"output"``; with
    ``nodes=False`` ``"output"`` alone, from the compiled model (several times faster)."""
    inputs = keras.ops.convert_to_tensor(np.asarray(x, dtype=spec.input.dtype))
    if not nodes:
        with dropout_disabled(model), full_precision():
            output = _compiled_call(model, train)(inputs)
        return {"output": keras.ops.convert_to_numpy(output)}
    with dropout_disabled(model), full_precision():
        outputs = _probe(model, spec)(inputs, training=train)
    result = {n.name: keras.ops.convert_to_numpy(outputs[n.name]) for n in spec.nodes}
    result["output"] = keras.ops.convert_to_numpy(outputs["output"])
    return result
