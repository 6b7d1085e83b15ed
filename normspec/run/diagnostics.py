"""Per-op training diagnostics from one probe batch, in numpy only (no framework).

From every op's output (inside residual blocks too) on a fixed probe batch (channels-last, the
last axis is the channel or unit) :func:`op_stats` computes the statistics below;
:class:`Diagnostics` collects them at the diagnostic steps of a run, with the update/weight
ratio of every kernel between two steps, as rows ``(step, op, stat, value)``:

* ``mean``, ``std``, ``min``, ``max`` of the output;
* ``zero_fraction``: the fraction of exact zeros; ``dead_fraction``: the fraction of channels
  (units) that are zero for every sample and position of the batch;
* ``negative_fraction``: the fraction of values below zero;
* ``saturated_fraction`` (tanh, sigmoid and softmax activations only): ``|y| > 0.99`` (tanh),
  ``y < 0.01`` or ``y > 0.99`` (sigmoid), and for softmax the fraction of positions whose largest
  probability is above 0.99;
* batch norm only: ``variance_shift``, the batch variance of the norm's input divided by its
  running variance, per channel, averaged over channels (the train/eval variance ratio of Li et
  al., CVPR 2019), and ``mean_shift``, ``|batch mean - running mean| / sqrt(running var +
  epsilon)`` averaged over channels;
* dense and conv only: ``update_ratio``, ``||w_t - w_prev|| / ||w_prev||`` of the kernel since
  the previous diagnostic step (none at the first).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from normspec.batching import batch_count
from normspec.files import write_text
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT

Row = tuple[int, str, str, float]
COLUMNS = ("step", "op", "stat", "value")
OUTPUT_STATS = ("mean", "std", "min", "max", "zero_fraction", "dead_fraction",
                "negative_fraction")  # fmt: skip
SATURATION = 0.99
SATURATION_LOW = 0.01
PROBE_SIZE = 256
HISTOGRAM_VALUES = 20_000
"""At most this many values of an op's output are kept for its histograms (evenly spaced)."""


def output_stats(y: np.ndarray) -> dict[str, float]:
    """The statistics every op's output gets (float64; NaN for an empty output)."""
    values = np.asarray(y, dtype=np.float64)
    if values.size == 0:
        return dict.fromkeys(OUTPUT_STATS, float("nan"))
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "zero_fraction": float(np.mean(values == 0)),
        "dead_fraction": dead_fraction(values),
        "negative_fraction": float(np.mean(values < 0)),
    }


def dead_fraction(y: np.ndarray) -> float:
    """The fraction of channels (last axis) that are exactly zero for the whole batch."""
    channels = np.asarray(y).reshape(-1, np.asarray(y).shape[-1])
    return float(np.mean(np.all(channels == 0, axis=0)))


def saturated_fraction(function: str, y: np.ndarray) -> float | None:
    """The fraction of saturated outputs of a tanh, sigmoid or softmax; None for others."""
    values = np.asarray(y, dtype=np.float64)
    if function == "tanh":
        return float(np.mean(np.abs(values) > SATURATION))
    if function == "sigmoid":
        return float(np.mean((values < SATURATION_LOW) | (values > SATURATION)))
    if function == "softmax":
        return float(np.mean(values.max(axis=-1) > SATURATION))
    return None


def _channel_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel batch mean and (biased) variance, as batch norm computes them."""
    channels = np.asarray(x, dtype=np.float64).reshape(-1, np.asarray(x).shape[-1])
    return channels.mean(axis=0), channels.var(axis=0)


def variance_shift(x: np.ndarray, running_var: np.ndarray) -> float:
    """Batch variance of ``x`` (the norm's input) over the running variance, channel-averaged."""
    _, var = _channel_moments(x)
    return float(np.mean(var / np.asarray(running_var, dtype=np.float64)))


def mean_shift(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
               epsilon: float) -> float:  # fmt: skip
    """``|batch mean - running mean| / sqrt(running var + epsilon)``, channel-averaged."""
    mean, _ = _channel_moments(x)
    scale = np.sqrt(np.asarray(running_var, dtype=np.float64) + epsilon)
    return float(np.mean(np.abs(mean - np.asarray(running_mean, dtype=np.float64)) / scale))


def update_ratio(previous: np.ndarray, current: np.ndarray) -> float:
    """``||current - previous|| / ||previous||`` (Frobenius); NaN when ``previous`` is zero."""
    before = np.asarray(previous, dtype=np.float64)
    norm = float(np.linalg.norm(before))
    if norm == 0:
        return float("nan")
    return float(np.linalg.norm(np.asarray(current, dtype=np.float64) - before) / norm)


def op_stats(
    spec: CanonicalSpec, x: np.ndarray, outputs: dict[str, np.ndarray], weights: dict[str, Any]
) -> list[tuple[str, str, float]]:
    """``(op, stat, value)`` for every node of ``spec`` (the ops inside residual blocks and
    each residual's add too), from ``outputs`` (by name, as :func:`normspec.layer_outputs`
    returns them) for the input batch ``x``; ``weights`` (canonical) give the batch norms'
    running statistics."""
    rows: list[tuple[str, str, float]] = []
    for node in spec.nodes:
        op, y = node.op, outputs[node.name]
        previous = x if node.inputs[0] == INPUT else outputs[node.inputs[0]]
        rows += [(op.name, stat, value) for stat, value in output_stats(y).items()]
        if isinstance(op, ir.Activation):
            saturated = saturated_fraction(op.function, y)
            if saturated is not None:
                rows.append((op.name, "saturated_fraction", saturated))
        if isinstance(op, ir.BatchNorm):
            mean, var = weights[f"{op.name}.mean"], weights[f"{op.name}.var"]
            rows.append((op.name, "variance_shift", variance_shift(previous, var)))
            rows.append((op.name, "mean_shift", mean_shift(previous, mean, var, op.epsilon)))
    return rows


def kernels(spec: CanonicalSpec, weights: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every dense and conv kernel (residual children included), by op name, copied."""
    weighted = (ir.Dense, ir.Conv1D, ir.Conv2D)
    return {
        node.name: np.array(weights[f"{node.name}.kernel"], copy=True)
        for node in spec.nodes
        if isinstance(node.op, weighted)
    }


def histogram_sample(y: np.ndarray, limit: int = HISTOGRAM_VALUES) -> np.ndarray:
    """At most ``limit`` evenly spaced values of ``y``, flattened, as float64."""
    flat = np.asarray(y, dtype=np.float64).ravel()
    if flat.size <= limit:
        return flat.copy()
    return flat[np.linspace(0, flat.size - 1, limit).astype(np.int64)]


def histogram_ops(spec: CanonicalSpec, limit: int = 12) -> list[str]:
    """The ops whose outputs the histograms show by default: every top-level normalization
    and activation (the first ``limit``)."""
    shown = (*ir.NORM_OPS, ir.Activation)
    return [n.name for n in spec.top_nodes if isinstance(n.op, shown)][:limit]


@dataclass
class Diagnostics:
    """Collects the diagnostics of one run: call :meth:`record` at every diagnostic step with
    the outputs on :attr:`probe` and the canonical weights at that step."""

    spec: CanonicalSpec
    probe: np.ndarray
    every: int
    probe_targets: np.ndarray | None = None
    """The probe's labels: with them every capture also records each kernel's ``grad_norm``."""
    shown: list[str] = field(default_factory=list)
    """Ops whose outputs are kept at the first and last step, for histograms."""
    rows: list[Row] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    first: dict[str, np.ndarray] = field(default_factory=dict)
    last: dict[str, np.ndarray] = field(default_factory=dict)
    _kernels: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(
                f"the diagnostics interval is a number of steps >= 1, not {self.every}"
            )
        if not self.shown:
            self.shown = histogram_ops(self.spec)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def record(
        self,
        step: int,
        outputs: dict[str, np.ndarray],
        weights: dict[str, Any],
        gradients: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.rows += [(step, *row) for row in op_stats(self.spec, self.probe, outputs, weights)]
        if gradients is not None:
            for name, grad in kernels(self.spec, gradients).items():
                self.rows.append((step, name, "grad_norm", float(np.linalg.norm(grad))))
        now = kernels(self.spec, weights)
        for name, kernel in now.items():
            if name in self._kernels:
                self.rows.append((step, name, "update_ratio",
                                  update_ratio(self._kernels[name], kernel)))  # fmt: skip
        self._kernels = now
        sample = {name: histogram_sample(outputs[name]) for name in self.shown}
        if not self.steps:
            self.first = sample
        self.last = sample
        self.steps.append(step)


def probe_batch(x_train: np.ndarray, dtype: str, size: int = PROBE_SIZE) -> np.ndarray:
    """The probe batch: the first ``size`` training samples, in the model's dtype."""
    return np.ascontiguousarray(x_train[:size], dtype=dtype)


def for_run(
    spec: CanonicalSpec,
    x_train: np.ndarray,
    batch_size: int,
    interval: int | str | None,
    y_train: np.ndarray | None = None,
) -> Diagnostics | None:
    """The collector for one run: every ``interval`` steps, or once per epoch (``"epoch"``);
    None without an interval. With ``y_train`` the probe's labels come along, for the
    gradient norms."""
    if interval is None:
        return None
    every = batch_count(len(x_train), batch_size) if interval == "epoch" else int(interval)
    probe = probe_batch(x_train, spec.input.dtype)
    targets = None if y_train is None else np.asarray(y_train[: len(probe)])
    return Diagnostics(spec, probe, every, targets)


def csv_text(rows: list[Row]) -> str:
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(COLUMNS)
    writer.writerows((step, op, stat, repr(value)) for step, op, stat, value in rows)
    return table.getvalue()


def write_csv(path: Path, rows: list[Row]) -> Path:
    write_text(path, csv_text(rows))
    return path


def read_csv(path: Path) -> list[Row]:
    with open(path, newline="") as f:
        return [(int(r["step"]), r["op"], r["stat"], float(r["value"])) for r in csv.DictReader(f)]
