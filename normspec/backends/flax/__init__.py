"""Flax NNX: emit an ``nnx.Module`` class and drive the model (optax + ``nnx.jit``).

Emission needs only normspec; building, running and training import JAX, Flax and optax on
first use. JAX's 64-bit mode is turned on only by building a float64 spec (its emitted module
does it); float32 models are float32 either way, since every layer gets its dtype explicitly.
:mod:`~.runtime` builds the model, moves weights and runs forward passes, :mod:`~.training`
takes the explicit training steps of parity checks and :mod:`~.trainer` is the idiomatic
``fit`` and ``predict``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import numpy as np

from normspec.backends.flax.module import generate
from normspec.errors import BackendError
from normspec.ir.graph import CanonicalSpec


def load(module: str = "runtime") -> ModuleType:
    """Import ``normspec.backends.flax.<module>`` and with it JAX and Flax. A missing framework
    is a :class:`BackendError` with the install hint."""
    try:
        return importlib.import_module(f"normspec.backends.flax.{module}")
    except ImportError as exc:
        if exc.name is None or exc.name.startswith("normspec"):
            raise
        raise BackendError(
            f"backend 'flax' needs its framework ({exc.name} is missing): "
            "pip install 'normspec[flax]'"
        ) from None


class FlaxBackend:
    """The :class:`normspec.backends.Backend` for Flax NNX."""

    name = "flax"

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


BACKEND = FlaxBackend()
