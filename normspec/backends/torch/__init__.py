"""PyTorch: emit one ``nn.Module`` class per spec and drive it.

Emission needs only normspec; building, running and training the model import PyTorch on first
use: :mod:`~normspec.backends.torch.runtime` builds and runs the model,
:mod:`~normspec.backends.torch.training` takes optimizer steps for training-step parity and
:mod:`~normspec.backends.torch.trainer` is the idiomatic training loop and ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from normspec.backends.torch.module import emit_module
from normspec.ir.graph import CanonicalSpec


class TorchBackend:
    """The :class:`normspec.backends.Backend` of PyTorch."""

    name = "torch"

    def emit(self, spec: CanonicalSpec) -> str:
        return emit_module(spec)

    def build(self, spec: CanonicalSpec) -> Any:
        from normspec.backends.torch import runtime

        return runtime.build(spec)

    def set_weights(self, model: Any, spec: CanonicalSpec, weights: dict[str, np.ndarray]) -> None:
        from normspec.backends.torch import runtime

        runtime.set_weights(model, spec, weights)

    def get_weights(self, model: Any, spec: CanonicalSpec) -> dict[str, np.ndarray]:
        from normspec.backends.torch import runtime

        return runtime.get_weights(model, spec)

    def forward(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, *, train: bool
    ) -> dict[str, np.ndarray]:
        from normspec.backends.torch import runtime

        return runtime.forward(model, spec, x, train=train)

    def train_steps(
        self, model: Any, spec: CanonicalSpec, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> list[float]:
        from normspec.backends.torch import training

        return training.train_steps(model, spec, batches)

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
        from normspec.backends.torch import trainer

        trainer.fit(
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
        from normspec.backends.torch import trainer

        return trainer.predict(model, spec, x)


BACKEND = TorchBackend()

__all__ = ["BACKEND", "TorchBackend"]
