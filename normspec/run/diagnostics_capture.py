"""Capturing diagnostics during training, in the framework being trained, without changing it.

A capture reads the canonical weights, runs the probe batch through the model in train mode
(batch statistics, dropout off; :meth:`~normspec.backends.Backend.forward`, the mechanism of
:func:`normspec.layer_outputs`) and writes the weights back, because a train-mode pass updates
the batch norms' running statistics; with the probe's labels it also takes the loss's gradient
(:meth:`~normspec.backends.Backend.gradients`, which leaves the model as it was). Dropout off
draws no random numbers, so the run's random streams are left alone too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from normspec.ir.graph import CanonicalSpec
from normspec.run.diagnostics import Diagnostics
from normspec.run.validation import state_kept


def capture(backend: Any, model: Any, spec: CanonicalSpec, diagnostics: Diagnostics,
            step: int) -> None:  # fmt: skip
    """Record the diagnostics of ``model`` at ``step``; the model is left as it was."""
    weights = backend.get_weights(model, spec)
    with state_kept(backend, model, spec):
        outputs = backend.forward(model, spec, diagnostics.probe, train=True)
    gradients = None
    if diagnostics.probe_targets is not None:
        gradients = backend.gradients(model, spec, diagnostics.probe, diagnostics.probe_targets)
    diagnostics.record(step, outputs, weights, gradients)


class Watch:
    """Captures at step 0 (:meth:`start`), after every ``diagnostics.every`` optimizer steps
    (:meth:`after_batch`, the ``on_batch_end`` given to ``Backend.fit``, which then calls the
    caller's own ``on_batch_end``) and after the last step (:meth:`finish`)."""

    def __init__(
        self,
        backend: Any,
        model: Any,
        spec: CanonicalSpec,
        diagnostics: Diagnostics,
        on_batch_end: Callable[[int], None] | None = None,
    ) -> None:
        self.backend, self.model, self.spec = backend, model, spec
        self.diagnostics, self.on_batch_end = diagnostics, on_batch_end
        self.step = 0

    def _capture(self) -> None:
        capture(self.backend, self.model, self.spec, self.diagnostics, self.step)

    def start(self) -> None:
        self._capture()

    def after_batch(self, batch: int) -> None:
        self.step += 1
        if self.diagnostics.due(self.step):
            self._capture()
        if self.on_batch_end is not None:
            self.on_batch_end(batch)

    def finish(self) -> None:
        if self.diagnostics.steps[-1:] != [self.step]:
            self._capture()
