"""``normspec compare``: are the frameworks computing the same model?"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from normspec.cli import (
    BATCH_SIZE,
    EPOCHS,
    LEARNING_RATE,
    MEMORY_LIMIT,
    POSITIVE,
    SEED,
    SPEC,
    THREADS,
    reports_errors,
    run_output,
)
from normspec.cli_run import TENSORBOARD, DiagnosticsInterval


def _backends(value: str) -> list[str]:
    from normspec.backends import BACKENDS

    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise click.BadParameter(f"choose from {', '.join(BACKENDS)}; got {value!r}")
    return names


@click.command()
@SPEC
@click.option("--backends", default="torch,keras,flax", show_default=True, help="Comma list.")
@click.option(
    "--mode", type=click.Choice(["eval", "train", "both"]), default="both", show_default=True
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    help="Compute in this dtype (default float32; with --train the spec's own).",
)
@click.option("--batch", default=4, show_default=True, type=click.IntRange(2, 4096))
@click.option("--seed", type=SEED, help="Input and weight seed (default 0; --train: the spec's).")
@click.option(
    "--tolerance",
    "atol",
    type=POSITIVE,
    help="Largest allowed difference, as a fraction of the largest output magnitude (> 0).",
)
@click.option("--train", "train", is_flag=True, help="Compare training runs instead.")
@click.option("--data", "-d", help="Data set for --train (see `normspec train --help`).")
@click.option("--epochs", type=EPOCHS, help="--train: epochs.")
@click.option("--batch-size", type=BATCH_SIZE, help="--train: batch size.")
@click.option("--lr", type=LEARNING_RATE, help="--train: learning rate.")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam"]), help="--train.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="--train: folder.")
@click.option(
    "--diagnostics",
    type=DiagnosticsInterval(),
    help="--train: per-op diagnostics every N steps or each epoch (see `normspec train --help`).",
)
@TENSORBOARD
@THREADS
@MEMORY_LIMIT
@reports_errors
def compare(
    spec: Path,
    backends: str,
    mode: str,
    dtype: str,
    batch: int,
    seed: int | None,
    atol: float | None,
    train: bool,
    data: str | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    out: Path | None,
    diagnostics: int | str | None,
    tensorboard: Path | None,
    threads: int | str,
    memory_limit: int | None,
) -> None:
    """Load identical weights into every backend, feed the same input, compare outputs.

    Eval mode uses running statistics; train mode uses batch statistics (dropout disabled) and
    also compares the updated running statistics. Each backend is checked against a numpy
    reference and against the others. Exits 1 when a difference is over tolerance, naming the
    first op whose output diverges.

    \b
    Example:
      normspec compare specs/cifar_cnn.yaml --backends torch,keras --dtype float64
      normspec compare specs/mlp.yaml --train --data digits --epochs 5
    """
    import normspec

    training_only = {"--data": data, "--epochs": epochs, "--batch-size": batch_size,
                     "--lr": lr, "--optimizer": optimizer, "--out": out,
                     "--diagnostics": diagnostics, "--tensorboard": tensorboard}  # fmt: skip
    given = [flag for flag, value in training_only.items() if value is not None]
    if given and not train:
        raise click.UsageError(f"{', '.join(given)} only apply with --train")
    if train:
        if not data:
            raise click.UsageError("--train needs --data")
        _compare_training(
            spec,
            _backends(backends),
            data,
            epochs,
            batch_size,
            lr,
            optimizer,
            seed,
            out,
            dtype,
            memory_limit,
            diagnostics,
            tensorboard,
            threads,
        )
        return
    from normspec.parity import compare as run_compare
    from normspec.parity import with_dtype

    names = _backends(backends)
    modes = ["eval", "train"] if mode == "both" else [mode]
    canon = with_dtype(normspec.load(spec), dtype or "float32")
    normspec.check_memory(canon, "compare", batch_size=batch, runners=len(names) + 1,
                          label="compare", limit=memory_limit)  # fmt: skip
    with parity_threads(names, threads):  # a count given applies; auto: the frameworks' own
        report = run_compare(
            canon,
            names,
            modes=modes,
            dtype=dtype or "float32",
            batch=batch,
            seed=seed if seed is not None else 0,
            atol=atol,
            progress=lambda msg: click.echo(f"  {msg}", err=True),
        )
    click.echo(report.table(), nl=False)
    if not report.ok:
        click.echo("parity FAILED", err=True)
        sys.exit(1)
    click.echo("parity ok")


@contextlib.contextmanager
def parity_threads(names: list[str], threads: int | str) -> Iterator[None]:
    """Every backend on ``threads`` threads while the parity check runs, when a count is
    given (``auto`` chooses for training runs only)."""
    from normspec.backends import get_backend
    from normspec.threads import given

    with contextlib.ExitStack() as stack:
        if isinstance(threads, int):
            for name in names:
                stack.enter_context(get_backend(name).threads(given(threads)))
        yield


def _compare_training(
    spec: Path,
    names: list[str],
    data: str,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    optimizer: str | None,
    seed: int | None,
    out: Path | None,
    dtype: str | None,
    memory_limit: int | None,
    diagnostics: int | str | None = None,
    tensorboard: Path | None = None,
    threads: int | str = "auto",
) -> None:
    import normspec
    from normspec.cli_run import (
        check_training_memory,
        diagnostics_line,
        epoch_line,
        load_data,
        outcome_line,
        settings_from,
        steps_per_epoch,
        warn_about_output,
    )
    from normspec.parity import with_dtype
    from normspec.run.compare_train import compare_training
    from normspec.run.progress import BatchProgress

    canon = normspec.load(spec)
    if dtype is not None:
        canon = with_dtype(canon, dtype)
    warn_about_output(canon)
    settings = settings_from(canon, epochs, batch_size, lr, optimizer, seed, threads)
    check_training_memory(canon, settings, "compare --train", memory_limit)
    dataset = load_data(data, canon, settings.seed)
    out = out or Path("runs") / f"{canon.name}-compare"

    steps = steps_per_epoch(dataset, settings)
    with run_output(out) as folder, BatchProgress(names[0], steps, settings.epochs) as bar:

        def progress(name: str, epoch: int, row: dict[str, float]) -> None:
            bar.epoch_done(epoch_line(name, row, settings.epochs, len(dataset.x_val) > 0))

        result = compare_training(canon, names, dataset, settings, folder, progress=progress,
                                  on_start=bar.start, on_batch_end=bar.on_batch_end,
                                  diagnostics=diagnostics)  # fmt: skip
    for name, diag in result.diagnostics.items():
        click.echo(f"{name} " + diagnostics_line(diag, out / name, result.plots[name]), err=True)
    if tensorboard is not None:
        from normspec.run.tensorboard import write_run

        for name, history in result.histories.items():
            write_run(tensorboard / name, history, result.diagnostics.get(name))
        click.echo(f"TensorBoard events written to {tensorboard}/", err=True)
    click.echo(result.table(), nl=False)
    gap, epoch = result.largest_loss_gap()
    val_gap, val_epoch = result.largest_loss_gap("val_loss")
    click.echo(f"largest per-epoch train-loss gap: {gap:.3g} (epoch {epoch}); "
               f"validation loss: {val_gap:.3g} (epoch {val_epoch})")  # fmt: skip
    for name, history in result.histories.items():
        click.echo(f"{name} " + outcome_line(canon, history, dataset, result.diagnostics.get(name)))
    click.echo(f"curves and report written to {out}/")


COMMANDS = [compare]
