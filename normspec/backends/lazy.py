"""The :class:`~normspec.backends.Backend` every framework package exposes, importing the
framework only when a model is built, run or trained.

A backend package ``normspec.backends.<name>`` has the same five modules: ``module`` (IR ->
source, framework-free), ``runtime`` (build, weights in and out, forward passes), ``training``
(explicit optimizer steps for training-step parity) and ``trainer`` (the framework's idiomatic
``fit`` and ``predict``) and ``environment`` (versions, threads and device, recorded with
every run). Only ``module`` is imported with the package.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import numpy as np

from normspec.errors import BackendError
from normspec.ir.graph import CanonicalSpec
from normspec.threads import Threads

INSTALL_HINTS = {
    "torch": "pip install 'normspec[torch]'",
    "keras": "pip install 'normspec[keras]'",
    "flax": "pip install 'normspec[flax]'",
}


def import_part(
    backend: str, part: str, environment: Mapping[str, str] | None = None
) -> ModuleType:
    """Import ``normspec.backends.<backend>.<part>`` and with it the framework, after setting
    the ``environment`` defaults (variables the user has set win). A missing framework is a
    :class:`BackendError` with the install hint."""
    for key, value in (environment or {}).items():
        os.environ.setdefault(key, value)
    try:
        return importlib.import_module(f"normspec.backends.{backend}.{part}")
    except ImportError as exc:
        if exc.name is None or exc.name.startswith("normspec"):
            raise
        raise BackendError(
            f"backend '{backend}' needs its framework ({exc.name} is missing): "
            f"{INSTALL_HINTS[backend]}"
        ) from None


class LazyBackend:
    """A backend whose framework is imported on first use of anything but :meth:`emit`."""

    def __init__(
        self,
        name: str,
        emit: Callable[[CanonicalSpec], str],
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._emit = emit
        self._environment = dict(environment or {})

    def __repr__(self) -> str:
        return f"LazyBackend({self.name!r})"

    def part(self, name: str) -> ModuleType:
        """The backend's ``runtime``, ``training`` or ``trainer`` module (framework imported)."""
        return import_part(self.name, name, self._environment)

    def emit(self, spec: CanonicalSpec) -> str:
        return self._emit(spec)

    def build(self, spec: CanonicalSpec) -> Any:
        return self.part("runtime").build(spec)

    def threads(self, choice: Threads) -> AbstractContextManager[str]:
        """A block that runs on ``choice``'s intra-op thread count; it gives how the count was
        chosen (or why it was not applied)."""
        scope: AbstractContextManager[str] = self.part("environment").threads(choice)
        return scope

    def environment(self) -> dict[str, object]:
        """The framework's version, its thread count and the device it runs on."""
        return self.part("environment").environment()

    def set_weights(self, model: Any, spec: CanonicalSpec, weights: dict[str, np.ndarray]) -> None:
        self.part("runtime").set_weights(model, spec, weights)

    def get_weights(self, model: Any, spec: CanonicalSpec) -> dict[str, np.ndarray]:
        weights: dict[str, np.ndarray] = self.part("runtime").get_weights(model, spec)
        return weights

    def forward(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, *, train: bool, nodes: bool = True
    ) -> dict[str, np.ndarray]:
        runtime = self.part("runtime")
        outputs: dict[str, np.ndarray] = runtime.forward(model, spec, x, train=train, nodes=nodes)
        return outputs

    def train_steps(
        self, model: Any, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> list[float]:
        losses: list[float] = self.part("training").train_steps(model, spec, batches)
        return losses

    def gradients(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, y: np.ndarray
    ) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = self.part("training").gradients(model, spec, x, y)
        return grads

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
        self.part("trainer").fit(
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

    def predict(self, model: Any, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.part("trainer").predict(model, spec, x)
        return out
