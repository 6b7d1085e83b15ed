"""Backends: one package per framework, imported only when asked for.

Every backend package ``normspec.backends.<name>`` exposes ``BACKEND``, an object with the
methods of :class:`Backend` (a :class:`~normspec.backends.lazy.LazyBackend`, which imports the
framework on first use of anything but ``emit``). Its emitter is a dispatch table keyed by IR
op class (one function per op, see ``EMITTERS`` in each ``emitter.py``); an op or option it
cannot express raises :class:`~normspec.errors.BackendError` naming the op, the option and the
backend.

Arrays crossing this interface are numpy, channels-last (the canonical layout), whatever layout the
framework uses inside.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from normspec.errors import BackendError
from normspec.ir.graph import CanonicalSpec
from normspec.threads import Threads

BACKENDS = ("torch", "keras", "flax")


class Backend(Protocol):
    name: str

    def emit(self, spec: CanonicalSpec) -> str:
        """Source of a standalone module that imports only this framework."""

    def build(self, spec: CanonicalSpec) -> Any:
        """Execute the emitted source and construct the model (dtype from ``spec.input``)."""

    def set_weights(self, model: Any, spec: CanonicalSpec, weights: dict[str, np.ndarray]) -> None:
        """Load canonical weights (including running statistics) into ``model``."""

    def get_weights(self, model: Any, spec: CanonicalSpec) -> dict[str, np.ndarray]:
        """Canonical weights of ``model``."""

    def forward(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, *, train: bool, nodes: bool = True
    ) -> dict[str, np.ndarray]:
        """Run ``x`` (channels-last) through the model in train or eval mode and return every
        top-level op's output keyed by op name, plus ``"output"``. In train mode dropout is
        disabled (rate treated as 0) so outputs are comparable; batch statistics are used and
        running statistics are updated as in training. ``nodes=False`` returns ``"output"``
        alone, without keeping the other outputs (what validation in train mode needs)."""

    def train_steps(
        self,
        model: Any,
        spec: CanonicalSpec,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
    ) -> list[float]:
        """One optimizer step per batch with ``spec.train`` (loss and optimizer); returns the
        losses. Dropout is disabled. Weights afterwards are read with :meth:`get_weights`."""

    def gradients(
        self, model: Any, spec: CanonicalSpec, x: np.ndarray, y: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The gradient of the spec's loss on the batch ``(x, y)`` with respect to every
        trainable canonical weight (canonical keys and layouts), in train mode with dropout
        off; the model is left as it was (running statistics put back, no gradient kept)."""

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
        """Train idiomatically (Keras ``fit``, a plain PyTorch loop, optax + ``nnx.jit``) on
        ``data`` (:class:`normspec.run.data.Dataset`), with the mini-batches of
        :func:`normspec.batching.batches` (same order in every backend), dropout active, the
        loss of ``spec.train.loss`` and ``optimizer`` (:class:`normspec.ir.graph.SGD` or
        :class:`~normspec.ir.graph.Adam`, same update rule in every backend). After each epoch
        call ``on_epoch_end(epoch, {"loss": mean batch loss, "accuracy": mean batch accuracy})``
        (accuracy NaN for regression)."""

    def predict(self, model: Any, spec: CanonicalSpec, x: np.ndarray) -> np.ndarray:
        """Eval-mode outputs for ``x`` (channels-last), as numpy."""

    def environment(self) -> dict[str, object]:
        """``framework`` (versions), ``threads`` and ``device`` of the runs in this process."""

    def threads(self, choice: Threads) -> AbstractContextManager[str]:
        """A block that runs on ``choice``'s intra-op thread count
        (:func:`normspec.threads.choose`); it gives how the count was chosen (or why it was not
        applied)."""


def get_backend(name: str) -> Backend:
    if not isinstance(name, str):
        raise TypeError(f"a backend is named by a str ({', '.join(BACKENDS)}), not {name!r}")
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    module = importlib.import_module(f"normspec.backends.{name}")
    return module.BACKEND
