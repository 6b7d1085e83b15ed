"""``normspec compare``: are the frameworks computing the same model?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from normspec.cli import SPEC, reports_errors


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
    "--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True
)
@click.option("--batch", default=4, show_default=True, type=click.IntRange(2, 4096))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--atol", type=float, help="Tolerance relative to the output scale.")
@reports_errors
def compare(
    spec: Path, backends: str, mode: str, dtype: str, batch: int, seed: int, atol: float | None
) -> None:
    """Load identical weights into every backend, feed the same input, compare outputs.

    Eval mode uses running statistics; train mode uses batch statistics (dropout disabled) and
    also compares the updated running statistics. Each backend is checked against a numpy
    reference and against the others. Exits 1 when a difference is over tolerance, naming the
    first op whose output diverges.

    \b
    Example:
      normspec compare specs/cifar_cnn.yaml --backends torch,keras --dtype float64
    """
    import normspec
    from normspec.parity import compare as run_compare

    names = _backends(backends)
    modes = ["eval", "train"] if mode == "both" else [mode]
    report = run_compare(
        normspec.load(spec),
        names,
        modes=modes,
        dtype=dtype,
        batch=batch,
        seed=seed,
        atol=atol,
        progress=lambda msg: click.echo(f"  {msg}", err=True),
    )
    click.echo(report.table(), nl=False)
    if not report.ok:
        click.echo("parity FAILED", err=True)
        sys.exit(1)
    click.echo("parity ok")


COMMANDS = [compare]
