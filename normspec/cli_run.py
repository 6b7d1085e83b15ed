"""``normspec train`` and ``normspec ablate``; ``compare --train`` reuses the same pieces."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from normspec.cli import (
    BATCH_SIZE,
    EPOCHS,
    LEARNING_RATE,
    MEMORY_LIMIT,
    SEED,
    SPEC,
    THREADS,
    reports_errors,
    run_output,
)

BACKEND = click.option(
    "--backend",
    "-b",
    type=click.Choice(["torch", "keras", "flax"]),
    default="torch",
    show_default=True,
)
DATA = click.option(
    "--data",
    "-d",
    required=True,
    help="digits, threshold, moons, synthetic_cifar, mnist, fashion_mnist, cifar10 or FILE.npz",
)


class DiagnosticsInterval(click.ParamType):
    """A number of optimizer steps (>= 1), or ``epoch`` (once per epoch)."""

    name = "N|epoch"

    def get_metavar(self, param: Any, ctx: Any) -> str:
        return self.name

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        if isinstance(value, int) or value == "epoch":
            return value
        text = str(value).strip()
        if text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is neither a number of steps >= 1 nor 'epoch'", param, ctx)


DIAGNOSTICS = click.option(
    "--diagnostics",
    type=DiagnosticsInterval(),
    help="Every N optimizer steps (or each epoch), and at step 0 and the last step, record "
    "per-op statistics of a fixed probe batch (the first 256 training samples): "
    "diagnostics.csv and plots in the run folder.",
)


TENSORBOARD = click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write TensorBoard event files under this folder (one run per subfolder): the "
    "epoch metrics and, with --diagnostics, every statistic and the output histograms "
    "(`tensorboard --logdir DIR`; TensorBoard itself is not needed to write them).",
)


def diagnostics_line(diagnostics: Any, folder: Path, plots: list[Path]) -> str:
    steps = diagnostics.steps
    drawn = f", {len(plots)} plots" if plots else " (no plots: matplotlib is not installed)"
    return (
        f"diagnostics at {len(steps)} steps ({steps[0]} to {steps[-1]}, every "
        f"{diagnostics.every}) on {len(diagnostics.probe)} probe samples: "
        f"{folder}/diagnostics.csv{drawn}"
    )


def run_options(fn):  # type: ignore[no-untyped-def]
    """Options shared by train, compare --train and ablate (defaults from the spec)."""
    for option in reversed(
        [
            click.option("--epochs", type=EPOCHS),
            click.option("--batch-size", type=BATCH_SIZE),
            click.option("--lr", type=LEARNING_RATE),
            click.option(
                "--optimizer",
                type=click.Choice(["sgd", "momentum", "adam"]),
                help="Instead of the spec's optimizer. The spec's learning rate is kept when "
                "its kind matches; otherwise sgd and momentum (0.9) use 0.01 and adam uses "
                "1e-3 (betas 0.9, 0.999, eps 1e-8); --lr overrides.",
            ),
            click.option("--seed", type=SEED),
            click.option(
                "--device",
                type=click.Choice(["auto", "cpu", "gpu", "tpu"]),
                default="auto",
                show_default=True,
                help="Where the framework runs the model.",
            ),
            click.option("--out", type=click.Path(file_okay=False, path_type=Path)),
            MEMORY_LIMIT,
            THREADS,
            DIAGNOSTICS,
            TENSORBOARD,
        ]
    ):
        fn = option(fn)
    return fn


def settings_from(spec, epochs, batch_size, lr, optimizer, seed, threads):  # type: ignore[no-untyped-def]
    from normspec.run.train import RunSettings

    return RunSettings.from_spec(spec, epochs=epochs, batch_size=batch_size, seed=seed,
                                 optimizer=optimizer, lr=lr, threads=threads)  # fmt: skip


def check_training_memory(spec, settings, label: str, limit: int | None) -> None:  # type: ignore[no-untyped-def]
    """Refuse (exit 2) a run whose estimated memory is above ``limit``, before any data is read
    or any weight is drawn."""
    import normspec

    normspec.check_memory(spec, "train", batch_size=settings.batch_size,
                          optimizer=settings.optimizer, label=label, limit=limit)  # fmt: skip


def load_data(name: str, spec, seed: int):  # type: ignore[no-untyped-def]
    """The data set, split by ``spec``; refused unless it fits ``spec`` (checked here, before
    any training or output folder)."""
    from normspec.run.data import check_dataset, load_dataset

    dataset = load_dataset(name, seed=seed, validation_split=spec.train.validation_split)
    check_dataset(spec, dataset)
    return dataset


def warn_about_output(spec: Any) -> None:
    from normspec.ir.output_checks import output_warnings

    for warning in output_warnings(spec):
        click.echo(f"warning: {warning}", err=True)


def steps_per_epoch(dataset: Any, settings: Any) -> int:
    from normspec.batching import batch_count

    return batch_count(len(dataset.x_train), settings.batch_size)


def epoch_line(prefix: str, row: dict[str, float], epochs: int, validation: bool = True) -> str:
    line = f"{prefix} epoch {int(row['epoch'])}/{epochs}  loss {row['loss']:.4f}  "
    line += f"acc {row['accuracy']:.4f}"
    if not validation:
        return line + "  (no validation split)"
    line += f"  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}"
    batch = row.get("val_train_mode_accuracy", row["val_accuracy"])
    if batch != row["val_accuracy"] and math.isfinite(batch):  # batch norm: both modes differ
        line += f" (batch statistics {batch:.4f})"
    return line


EXIT_FAILED_RUN = 1


def check_finished(history: Any, validation: bool, out: Path) -> None:
    """A run whose loss became NaN or infinite says so and exits with status 1 (its metrics
    are kept for inspection)."""
    bad = history.first_non_finite(validation)
    if bad is not None:
        epoch, metric = bad
        click.echo(
            f"error: the run diverged: {metric.replace('_', ' ')} is not finite from epoch "
            f"{epoch}; metrics written to {out}/ for inspection (try a lower --lr, or add "
            "normalization)",
            err=True,
        )
        sys.exit(EXIT_FAILED_RUN)


def outcome_line(spec: Any, history: Any, dataset: Any, diagnostics: Any = None) -> str:
    """``outcome: <label> (<measurements>)``, as the README's *Outcomes* define it, and with
    diagnostics what they show (saturated activations, mostly dead units)."""
    from normspec.run.outcomes import diagnostic_findings, run_outcome

    result = run_outcome(spec, history, dataset)
    found = diagnostic_findings(diagnostics.rows) if diagnostics is not None else []
    return f"outcome: {result.label} ({result.detail})" + "".join(f"; {f}" for f in found)


def set_device(device: str) -> None:
    import os

    os.environ["NORMSPEC_DEVICE"] = device


@click.command(name="train")
@SPEC
@BACKEND
@DATA
@run_options
@reports_errors
def train_command(
    spec: Path,
    backend: str,
    data: str,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    seed: int | None,
    device: str,
    out: Path | None,
    memory_limit: int | None,
    threads: int | str,
    diagnostics: int | str | None,
    tensorboard: Path | None,
) -> None:
    """Train SPEC in one framework; save metrics (JSON, CSV), canonical weights and a report.

    \b
    Example:
      normspec train specs/mlp.yaml --backend keras --data digits --epochs 5 --out runs/mlp
    """
    import normspec
    from normspec.run.diagnostic_plots import save_diagnostics
    from normspec.run.diagnostics import for_run
    from normspec.run.progress import BatchProgress
    from normspec.run.train import save_run, starting_weights, train
    from normspec.run.train_report import write_train_report

    set_device(device)
    canon = normspec.load(spec)
    warn_about_output(canon)
    settings = settings_from(canon, epochs, batch_size, lr, optimizer, seed, threads)
    check_training_memory(canon, settings, "train", memory_limit)
    dataset = load_data(data, canon, settings.seed)
    weights = starting_weights(canon, dataset, settings.seed)
    out = out or Path("runs") / f"{canon.name}-{backend}"
    steps = steps_per_epoch(dataset, settings)
    validation = len(dataset.x_val) > 0
    diag = for_run(canon, dataset.x_train, settings.batch_size, diagnostics, dataset.y_train)
    with run_output(out) as folder:
        with BatchProgress(f"{backend}", steps, settings.epochs) as bar:
            history, final = train(
                canon,
                backend,
                dataset,
                weights,
                settings,
                on_batch_end=bar.on_batch_end,
                on_epoch=lambda row: bar.epoch_done(
                    epoch_line(backend, row, settings.epochs, validation)
                ),
                diagnostics=diag,
            )
        save_run(folder, canon, history, final, settings, dataset)
        plots = save_diagnostics(folder, diag, f"{canon.name} ({backend})") if diag else []
        write_train_report(folder, canon, history, dataset, settings, diag, plots)
    if tensorboard is not None:
        from normspec.run.tensorboard import write_run

        events = write_run(tensorboard / f"{canon.name}-{backend}", history, diag)
        click.echo(f"TensorBoard events written to {events.parent}/", err=True)
    if diag:
        click.echo(diagnostics_line(diag, out, plots), err=True)
    check_finished(history, validation, out)
    click.echo(outcome_line(canon, history, dataset, diag))
    if history.test:
        click.echo(
            f"{backend} test ({len(dataset.x_test)} samples): loss "
            f"{history.test['test_loss']:.4f}  acc {history.test['test_accuracy']:.4f}"
        )
    click.echo(f"metrics, weights and report written to {out}/")


@click.command(name="ablate")
@SPEC
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    help="KEY=V1,V2 (e.g. norm.position=before_activation,after_activation,none)",
)
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(1, 100))
@BACKEND
@DATA
@run_options
@reports_errors
def ablate_command(
    spec: Path,
    vary: tuple[str, ...],
    seeds: int,
    backend: str,
    data: str,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    seed: int | None,
    device: str,
    out: Path | None,
    memory_limit: int | None,
    threads: int | str,
    diagnostics: int | str | None,
    tensorboard: Path | None,
) -> None:
    """Train every variant of SPEC over several seeds; table, curves and report.

    \b
    Example:
      normspec ablate specs/cnn_bn_after_relu.yaml --data digits \\
          --vary norm.position=before_activation,after_activation,none --seeds 3
    """
    from normspec.run.ablate import Variation, ablate, distinct, table, variants
    from normspec.run.ablate_seeds import seeds_section
    from normspec.run.data import check_dataset
    from normspec.run.progress import BatchProgress

    set_device(device)
    specs = variants(spec, [Variation.parse(v) for v in vary])
    first = next(iter(specs.values()))
    for variant in specs.values():
        warn_about_output(variant)
    # Each variant trains with its own train section (it may be what varies); flags override.
    settings = {
        label: settings_from(s, epochs, batch_size, lr, optimizer, seed, threads)
        for label, s in specs.items()
    }
    for label, s in specs.items():
        check_training_memory(s, settings[label], f"ablate variant {label}", memory_limit)
    splits: dict[tuple[float, int], Any] = {}
    datasets = {}
    for label, s in specs.items():
        key = (s.train.validation_split, settings[label].seed)
        if key not in splits:
            splits[key] = load_data(data, s, key[1])
        else:
            check_dataset(s, splits[key])
        datasets[label] = splits[key]
    out = out or Path("runs") / f"{first.name}-ablation"
    same = distinct(specs)
    for label, earlier in same.items():
        click.echo(f"{label} is the same model and training as {earlier}: trained once", err=True)
    trained = [label for label in specs if label not in same]
    total = len(trained) * seeds

    def run_label(label: str, k: int) -> str:
        done = trained.index(label) * seeds + k + 1
        return f"[{done}/{total}] {label} seed {settings[label].seed + k}:"

    first_label = next(iter(specs))
    steps = steps_per_epoch(datasets[first_label], settings[first_label])
    bar = BatchProgress(run_label(first_label, 0), steps, settings[first_label].epochs)

    def progress(label: str, k: int, epoch: int, row: dict[str, float]) -> None:
        validation = len(datasets[label].x_val) > 0
        bar.epoch_done(epoch_line(run_label(label, k), row, settings[label].epochs, validation))

    def start(label: str, k: int) -> None:
        own = settings[label]
        bar.start(run_label(label, k), steps_per_epoch(datasets[label], own), own.epochs)

    events = events_writer(tensorboard)
    with run_output(out) as folder, bar:
        results = ablate(specs, backend, datasets, settings, seeds, folder, progress=progress,
                         on_start=start, on_batch_end=bar.on_batch_end, same=same,
                         diagnostics=diagnostics, on_run_end=events)  # fmt: skip
    click.echo(table(results), nl=False)
    for line in seeds_section(results)[1:]:
        if line.startswith("- ") and " vs " in line:
            click.echo(line[2:])
    if diagnostics is not None:
        click.echo(f"diagnostics of every run written to {out}/diagnostics/", err=True)
    if tensorboard is not None:
        what = "epoch metrics and diagnostics" if diagnostics is not None else "epoch metrics"
        click.echo(f"TensorBoard events ({what}) written to {tensorboard}/", err=True)
    click.echo(f"report and curves written to {out}/")


def events_writer(tensorboard: Path | None) -> Any:
    """``ablate``'s ``on_run_end`` for ``--tensorboard``: each run's events, as ``train``
    writes them, in ``<variant>-seed<seed>/`` as soon as the run ends; None without it."""
    if tensorboard is None:
        return None
    from normspec.run.tensorboard import write_run

    def write(label: str, seed: int, history: Any, diagnostics: Any) -> None:
        write_run(tensorboard / f"{label}-seed{seed}", history, diagnostics)

    return write


COMMANDS = [train_command, ablate_command]
