"""Memory estimates of a spec, from its canonical form alone (no framework is imported), and the
check that refuses work the machine cannot hold before anything is allocated.

The parts, in the spec's dtype (float32: 4 bytes, float64: 8):

* parameters: every weight tensor, trainable or not (running statistics, input statistics);
* gradients: one per trainable parameter;
* optimizer state: Adam 2 x the trainable parameters (first and second moments), SGD with
  momentum 1 x (the velocity), plain SGD none;
* activations: the output of every op (residual children and the residual's own sum each once;
  the input batch itself not counted) x the batch size, for one forward pass. Training keeps
  them for the backward pass and adds a gradient of each: about 2 x the forward figure;
* scratch: initial values are drawn in float64 one tensor at a time, so the largest tensor
  once more at 8 bytes an element.

What each kind of work needs (:meth:`MemoryEstimate.need`; data sets are not counted):

* ``weights`` (``weights init``, ``weights convert``): parameters + scratch;
* ``model`` (a live model, :func:`normspec.build`): parameters;
* ``train`` (``train``, ``ablate``, ``compare --train``): the canonical starting weights
  (parameters) + the model in training: parameters, gradients, optimizer state and 2 x the
  activations at the training batch size;
* ``compare`` (parity): the canonical weights + scratch, and for each backend and the numpy
  reference a model (parameters), the weights read back (parameters) and the forward
  activations at ``--batch``.

The default limit is the machine's physical memory (``SC_PAGE_SIZE x SC_PHYS_PAGES``, else
``MemTotal`` in ``/proc/meminfo``; no limit where neither can be read); ``--memory-limit`` on
the commands, or ``limit=`` here, sets another.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from normspec.costs import size
from normspec.errors import ResourceError
from normspec.ir.graph import SGD, Adam, CanonicalSpec, weight_specs

DTYPE_BYTES = {"float32": 4, "float64": 8}
SCRATCH_BYTES = 8
"""Initial values are drawn in float64."""
Task = Literal["weights", "model", "train", "compare"]


def activation_bytes(spec: CanonicalSpec, batch_size: int | None = None) -> int:
    """Bytes of every op's output for one forward pass of ``batch_size`` samples (default: the
    spec's ``train.batch_size``)."""
    batch = spec.train.batch_size if batch_size is None else batch_size
    elements = sum(size(node.shape) for node in spec.nodes)
    return elements * DTYPE_BYTES[spec.input.dtype] * batch


def optimizer_slots(optimizer: SGD | Adam) -> int:
    """State tensors the optimizer keeps per trainable parameter."""
    if isinstance(optimizer, Adam):
        return 2
    return 1 if optimizer.momentum > 0 else 0


def optimizer_label(optimizer: SGD | Adam) -> str:
    if isinstance(optimizer, Adam):
        return "adam"
    return "sgd with momentum" if optimizer.momentum > 0 else "sgd"


@dataclass(frozen=True)
class Need:
    """The memory one kind of work needs: named parts and their sum."""

    task: str
    parts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.parts)

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {format_bytes(count)}" for name, count in self.parts if count)
        return f"about {format_bytes(self.total)} ({parts})"


@dataclass(frozen=True)
class MemoryEstimate:
    """The parts of a spec's memory, in bytes (rules: see the module docstring)."""

    dtype: str
    batch_size: int
    optimizer: str
    parameter_bytes: int
    trainable_bytes: int
    optimizer_bytes: int
    scratch_bytes: int
    activation_bytes: int
    """Forward, at :attr:`batch_size`."""

    @property
    def training_activation_bytes(self) -> int:
        return 2 * self.activation_bytes

    def need(self, task: Task, label: str | None = None, runners: int = 1) -> Need:
        """What ``task`` needs; ``runners`` models side by side for ``compare``."""
        params, batch = self.parameter_bytes, self.batch_size
        weights = [("weights", params), ("float64 scratch", self.scratch_bytes)]
        parts = {
            "weights": weights,
            "model": [("parameters", params)],
            "train": [
                ("starting weights", params),
                ("model", params),
                ("gradients", self.trainable_bytes),
                (f"{self.optimizer} state", self.optimizer_bytes),
                (f"activations x2 at batch {batch}", self.training_activation_bytes),
            ],
            "compare": [
                *weights,
                (f"{runners} models", runners * params),
                (f"{runners} weight copies", runners * params),
                (f"{runners} x activations at batch {batch}", runners * self.activation_bytes),
            ],
        }[task]
        return Need(label or task, tuple(parts))


def estimate_memory(
    spec: CanonicalSpec, batch_size: int | None = None, optimizer: SGD | Adam | None = None
) -> MemoryEstimate:
    """The memory parts of ``spec`` at ``batch_size`` with ``optimizer`` (defaults: the spec's
    train section)."""
    width = DTYPE_BYTES[spec.input.dtype]
    optimizer = spec.train.optimizer if optimizer is None else optimizer
    batch = spec.train.batch_size if batch_size is None else batch_size
    tensors = weight_specs(spec)
    trainable = sum(size(w.shape) for w in tensors if w.trainable)
    return MemoryEstimate(
        dtype=spec.input.dtype,
        batch_size=batch,
        optimizer=optimizer_label(optimizer),
        parameter_bytes=sum(size(w.shape) for w in tensors) * width,
        trainable_bytes=trainable * width,
        optimizer_bytes=optimizer_slots(optimizer) * trainable * width,
        scratch_bytes=max((size(w.shape) for w in tensors), default=0) * SCRATCH_BYTES,
        activation_bytes=activation_bytes(spec, batch),
    )


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes, or None when it cannot be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if total > 0:
            return int(total)
    except (AttributeError, OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_need(need: Need, limit: int | str | None = None) -> Need:
    """Return ``need``, or raise :class:`ResourceError` when it is above ``limit`` (bytes or a
    size such as ``8G``; default: this machine's physical memory)."""
    if limit is None:
        limit, origin = machine_memory(), "this machine's physical memory"
    else:
        limit, origin = parse_memory_size(limit), "the memory limit given"
    if limit is not None and need.total > limit:
        raise ResourceError(
            f"{need.task} needs {need}, above {format_bytes(limit)} ({origin}); use a smaller "
            "model or batch, or set the limit with --memory-limit (memory_limit= in Python)"
        )
    return need


_SIZE = re.compile(r"(\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_memory_size(value: int | str) -> int:
    """Bytes from ``8G``, ``512M``, ``1.5GiB``, ``64k`` or plain bytes (``4096``); K, M, G and
    T are powers of 1024. Raises :class:`ResourceError` for anything else or for 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    else:
        match = _SIZE.fullmatch(str(value).strip())
        if match is None:
            raise ResourceError(
                f"{value!r} is not a memory size: give bytes or a number with K, M, G or T "
                "(powers of 1024), e.g. 8G or 512M"
            )
        count = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if count < 1:
        raise ResourceError(f"a memory limit must be at least 1 byte; got {value!r}")
    return count


def format_bytes(count: int) -> str:
    """``count`` bytes in binary units: ``512 B``, ``1.5 KiB``, ``59.6 GiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
