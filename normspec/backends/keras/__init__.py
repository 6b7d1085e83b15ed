"""Keras 3 on TensorFlow: emit a functional ``keras.Model`` builder and drive the model.

Emission needs only normspec; building, running and training import Keras on first use, with
TensorFlow quiet and oneDNN off for reproducible CPU math unless the environment says
otherwise. :mod:`~.runtime` builds the model, moves weights and runs forward passes,
:mod:`~.training` takes the explicit training steps of parity checks and :mod:`~.trainer` is
the idiomatic ``compile``/``fit`` and ``predict``.
"""

from __future__ import annotations

from normspec.backends.keras.module import generate
from normspec.backends.lazy import LazyBackend
from normspec.ir.graph import CanonicalSpec

ENVIRONMENT = {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


def emit(spec: CanonicalSpec) -> str:
    return generate(spec).source


BACKEND = LazyBackend("keras", emit, ENVIRONMENT)

__all__ = ["BACKEND", "emit"]
