"""Keras 3 on TensorFlow: emit a functional ``keras.Model`` builder and drive the model.

Emission needs only normspec; building, running and training import Keras on first use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import numpy as np

from normspec.backends.keras.module import generate
from normspec.errors import BackendError
from normspec.ir.graph import CanonicalSpec


def load(module: str = "runtime") -> ModuleType:
    """Import ``normspec.backends.keras.<module>`` and with it Keras on TensorFlow (quiet, and
    oneDNN off for reproducible CPU math, unless the environment says otherwise). A missing
    framework is a :class:`BackendError` with the install hint."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        return importlib.import_module(f"normspec.backends.keras.{module}")
    except ImportError as exc:
        if exc.name is None or exc.name.startswith("normspec"):
            raise
        raise BackendError(
            f"backend 'keras' needs its framework ({exc.name} is missing): "
            "pip install 'normspec[keras]'"
        ) from None


class KerasBackend:
    """The :class:`normspec.backends.Backend` for Keras 3 with the TensorFlow backend."""

    name = "keras"

    def emit(self, spec: CanonicalSpec) -> str:
        return generate(spec).source

    def build(self, spec: CanonicalSpec) -> Any:
        return load().build(spec)

    def set_weights(self, model: Any, spec: CanonicalSpec, weights: dict[str, np.ndarray]) -> None:
        load().set_weights(model, spec, weights)

    def get_weights(self, model: Any, spec: CanonicalSpec) -> dict[str, np.ndarray]:
        return load().get_weights(model, spec)

    def forward(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, *, train: bool
    ) -> dict[str, np.ndarray]:
        return load().forward(model, spec, x, train=train)

    def predict(self, model: Any, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
        return load("trainer").predict(model, spec, x)

    def train_steps(
        self, model: Any, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> list[float]:
        return load("training").train_steps(model, spec, batches)

    def fit(
        self,
        model: Any,
        spec: CanonicalSpec,
        data: Any,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        optimizer: Any,
        on_batch_end: Callable[[int], None] | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        load("trainer").fit(
            model,
            spec,
            data,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            optimizer=optimizer,
            on_batch_end=on_batch_end,
            on_epoch_end=on_epoch_end,
        )


BACKEND = KerasBackend()
