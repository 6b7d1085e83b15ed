"""One training run in one backend, from canonical weights to metrics and saved weights."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from normspec.files import write_text
from normspec.ir import ops as ir
from normspec.ir.graph import SGD, Adam, CanonicalSpec, TrainSpec
from normspec.run import metrics
from normspec.run.data import Dataset, channel_stats, check_dataset
from normspec.run.diagnostics import Diagnostics
from normspec.run.diagnostics_capture import Watch
from normspec.run.environment import run_environment
from normspec.run.validation import train_mode_metrics, uses_batch_statistics
from normspec.spec.train_section import optimizer_of
from normspec.threads import Requested, check, choose
from normspec.weights import Weights, init_weights, save_weights

if TYPE_CHECKING:
    from normspec.backends import Backend


@dataclass(frozen=True)
class RunSettings:
    epochs: int
    batch_size: int
    seed: int
    optimizer: SGD | Adam
    threads: Requested = None
    """Intra-op threads: a count, ``"auto"`` (by the network's size) or None, the framework's
    own (:func:`normspec.threads.choose`)."""

    @classmethod
    def from_spec(
        cls,
        spec: CanonicalSpec,
        *,
        epochs: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        optimizer: str | None = None,
        lr: float | None = None,
        threads: Requested = None,
    ) -> RunSettings:
        """The spec's ``train`` section, with command-line overrides."""
        opt: SGD | Adam = spec.train.optimizer
        if optimizer == "adam" and not isinstance(opt, Adam):
            opt = optimizer_of("adam")
        elif optimizer in ("sgd", "momentum"):
            kept = opt.learning_rate if isinstance(opt, SGD) else None
            opt = optimizer_of(optimizer, learning_rate=kept)
        if lr is not None:
            opt = type(opt).model_validate({**opt.model_dump(), "learning_rate": lr})
        return cls(
            epochs=spec.train.epochs if epochs is None else epochs,
            batch_size=spec.train.batch_size if batch_size is None else batch_size,
            seed=spec.train.seed if seed is None else seed,
            optimizer=opt,
            threads=threads,
        )

    def __post_init__(self) -> None:
        """The spec's own rules (:mod:`normspec.ir.constraints`) hold for overrides too."""
        TrainSpec.model_validate(
            {"loss": "mean_squared_error", "optimizer": self.optimizer.model_dump(),
             "batch_size": self.batch_size, "epochs": self.epochs, "seed": self.seed,
             "validation_split": 0.0}
        )  # fmt: skip
        check(self.threads)


@dataclass
class History:
    backend: str
    epochs: list[dict[str, float]] = field(default_factory=list)
    test: dict[str, float] = field(default_factory=dict)
    """``test_loss`` and ``test_accuracy`` of the final model, when the data has a test set."""
    environment: dict[str, object] = field(default_factory=dict)
    """The framework, threads and device the run ran with, recorded as it ended
    (:meth:`~normspec.backends.Backend.environment`, and ``thread_choice``: why that count)."""

    @property
    def final(self) -> dict[str, float]:
        return self.epochs[-1] if self.epochs else {}

    def diverged(self) -> bool:
        return any(not math.isfinite(e["loss"]) for e in self.epochs)

    def first_non_finite(self, validation: bool = True) -> tuple[int, str] | None:
        """The first epoch and metric whose loss is NaN or infinite, if any."""
        names = ("loss", "val_loss") if validation else ("loss",)
        for row in self.epochs:
            for name in names:
                if not math.isfinite(row[name]):
                    return int(row["epoch"]), name
        return None


def starting_weights(spec: CanonicalSpec, data: Dataset, seed: int) -> Weights:
    """Initial weights, with input standardization fitted on the training split only."""
    weights = init_weights(spec, seed)
    for node in spec.nodes:
        op = node.op
        if isinstance(op, ir.Standardize) and op.adapt:
            mean, std = channel_stats(data.x_train, op.epsilon)
            dtype = np.dtype(spec.input.dtype)
            weights[f"{op.name}.mean"] = mean.astype(dtype)
            weights[f"{op.name}.std"] = std.astype(dtype)
    return weights


def train(
    spec: CanonicalSpec,
    backend_name: str,
    data: Dataset,
    weights: Weights,
    settings: RunSettings,
    *,
    on_batch_end: Callable[[int], None] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    diagnostics: Diagnostics | None = None,
) -> tuple[History, Weights]:
    """Train in ``backend_name`` from ``weights``; validation metrics after every epoch, with
    the running statistics (``val_loss``, ``val_accuracy``) and with batch statistics
    (``val_train_mode_loss``, ``val_train_mode_accuracy``: the same numbers when the spec has
    no batch norm).
    Data that does not fit the spec raises :class:`~normspec.run.data.DataError` first.
    ``diagnostics`` (optional) are recorded at step 0, every ``diagnostics.every`` steps and
    after the last step (:mod:`normspec.run.diagnostics_capture`); without them nothing
    extra runs. The run uses ``settings.threads`` intra-op threads
    (:func:`normspec.threads.choose`) and puts the process's count back afterwards."""
    from normspec.backends import get_backend

    check_dataset(spec, data)
    backend = get_backend(backend_name)
    choice = choose(settings.threads, spec, settings.batch_size)
    with backend.threads(choice) as chosen:
        history, weights = _train(spec, backend, data, weights, settings, on_batch_end=on_batch_end,
                                  on_epoch=on_epoch, diagnostics=diagnostics)  # fmt: skip
        history.environment = {**backend.environment(), "thread_choice": chosen}
    return history, weights


def _train(
    spec: CanonicalSpec,
    backend: Backend,
    data: Dataset,
    weights: Weights,
    settings: RunSettings,
    *,
    on_batch_end: Callable[[int], None] | None,
    on_epoch: Callable[[dict[str, float]], None] | None,
    diagnostics: Diagnostics | None,
) -> tuple[History, Weights]:
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    history = History(backend.name)
    x_val = data.x_val.astype(spec.input.dtype)

    def epoch_end(epoch: int, train_metrics: dict[str, float]) -> None:
        row = {
            "epoch": float(epoch + 1),
            "loss": float(train_metrics["loss"]),
            "accuracy": float(train_metrics.get("accuracy", float("nan"))),
            "val_loss": float("nan"),  # no validation split: no validation metrics
            "val_accuracy": float("nan"),
        }
        if len(x_val):
            out = backend.predict(model, spec, x_val)
            row["val_loss"] = metrics.loss(spec, out, data.y_val)
            row["val_accuracy"] = metrics.accuracy(spec, out, data.y_val)
        row["val_train_mode_loss"], row["val_train_mode_accuracy"] = (
            row["val_loss"],
            row["val_accuracy"],
        )
        if len(x_val) and uses_batch_statistics(spec):
            row.update(train_mode_metrics(backend, model, spec, data, settings.batch_size))
        history.epochs.append(row)
        if on_epoch:
            on_epoch(row)

    watch = None
    if diagnostics is not None:
        watch = Watch(backend, model, spec, diagnostics, on_batch_end)
        watch.start()
        on_batch_end = watch.after_batch
    backend.fit(
        model,
        spec,
        data,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        seed=settings.seed,
        optimizer=settings.optimizer,
        on_batch_end=on_batch_end,
        on_epoch_end=epoch_end,
    )
    if watch is not None:
        watch.finish()
    if data.x_test is not None and data.y_test is not None and len(data.x_test):
        out = backend.predict(model, spec, data.x_test.astype(spec.input.dtype))
        history.test = {
            "test_loss": metrics.loss(spec, out, data.y_test),
            "test_accuracy": metrics.accuracy(spec, out, data.y_test),
        }
    return history, backend.get_weights(model, spec)


def save_run(
    out: Path,
    spec: CanonicalSpec,
    history: History,
    weights: Weights,
    settings: RunSettings | None = None,
    data: Dataset | None = None,
) -> None:
    """metrics.json (with the run's settings and data, so it can be reproduced), metrics.csv
    and weights.safetensors (canonical format) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    payload: dict[str, object] = {"spec": spec.name, "hash": spec.hash}
    if settings is not None:
        payload["settings"] = {
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "seed": settings.seed,
            "optimizer": settings.optimizer.model_dump(),
            "threads": settings.threads,
        }
    if data is not None:
        payload["data"] = {
            "name": data.name,
            "train": len(data.x_train),
            "validation": len(data.x_val),
            "validation_split": spec.train.validation_split,
            "split_seed": settings.seed if settings is not None else None,
            "test": 0 if data.x_test is None else len(data.x_test),
        }
    payload["environment"] = run_environment([history])
    payload.update({k: v for k, v in asdict(history).items() if k != "environment"})
    write_text(out / "metrics.json", json.dumps(strict_json(payload), indent=2) + "\n")
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(history.epochs[0]) if history.epochs else [])
    writer.writeheader()
    writer.writerows(history.epochs)
    write_text(out / "metrics.csv", table.getvalue())
    save_weights(out / "weights.safetensors", spec, weights)


def strict_json(value: object) -> object:
    """``value`` with every float that is not finite replaced by ``None`` (JSON ``null``): JSON
    has no NaN or Infinity, and strict parsers reject Python's bare ``NaN``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value
