"""What every backend's runners share, written once: the device a run asks for, the targets the
loss reads, and the batches of a prediction. Framework-free: each backend turns these into its
framework's objects."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from normspec.errors import BackendError
from normspec.heads import targets
from normspec.ir.graph import CanonicalSpec

DEVICES = ("auto", "cpu", "gpu", "tpu")
"""The values of ``--device`` (``NORMSPEC_DEVICE``); ``auto`` is the framework's own choice."""

PREDICT_BATCH = 256
"""Samples per forward pass of ``predict``."""


def requested_device() -> str:
    """The device ``NORMSPEC_DEVICE`` asks for (``auto`` when unset); any other value than
    :data:`DEVICES` is a :class:`BackendError`."""
    wanted = os.environ.get("NORMSPEC_DEVICE", "auto")
    if wanted not in DEVICES:
        raise BackendError(f"NORMSPEC_DEVICE={wanted!r}: use one of {', '.join(DEVICES)}")
    return wanted


def missing_device(device: str, framework: str) -> BackendError:
    """The error for a device that was asked for and that ``framework`` does not see."""
    return BackendError(
        f"--device {device} (NORMSPEC_DEVICE) was asked for, but {framework} sees no "
        f"{device} device"
    )


def loss_targets(spec: CanonicalSpec, y: np.ndarray) -> np.ndarray:
    """Targets as the loss reads them: class ids (int64) for cross-entropy, otherwise values
    in the spec's dtype shaped like the output (channels-last)."""
    t = targets(spec, np.asarray(y))
    return t if spec.train.loss == "cross_entropy" else t.astype(spec.input.dtype)


def prediction_batches(n: int) -> Iterator[slice]:
    """The slices of ``n`` samples that ``predict`` runs one at a time."""
    for start in range(0, n, PREDICT_BATCH):
        yield slice(start, start + PREDICT_BATCH)
