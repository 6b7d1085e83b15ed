"""``normspec weights``: initialize and convert weights between frameworks."""

from __future__ import annotations

from pathlib import Path

import click

from normspec.cli import MEMORY_LIMIT, SEED, SPEC, output_folder, reports_errors

FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def weights() -> None:
    """Canonical and framework weight files (.safetensors, .pt, .weights.h5, .msgpack)."""


@weights.command()
@SPEC
@click.argument("source", type=FILE)
@click.option("-o", "--output", required=True, type=FILE, help="Target file; type by suffix.")
@click.option(
    "--allow-cast",
    is_flag=True,
    help="Cast weights stored in another dtype than the spec's (float64, float16, integers, bool).",
)
@MEMORY_LIMIT
@reports_errors
def convert(
    spec: Path, source: Path, output: Path, allow_cast: bool, memory_limit: int | None
) -> None:
    """Move weights of SPEC from SOURCE to OUTPUT, between any two formats.

    The format of each file follows its suffix: .safetensors (canonical, carries the spec hash),
    .pt/.pth (PyTorch state_dict), .weights.h5 (Keras), .msgpack (Flax NNX state). Weights
    made for a different spec are refused, and so are NaN or infinite values and weights stored
    in another dtype than the spec's (unless --allow-cast).

    \b
    Example (train in PyTorch, evaluate in Keras):
      normspec weights convert specs/mlp.yaml trained.pt -o trained.weights.h5
    """
    import normspec
    from normspec.backends.native import read_any, write_any

    canon = normspec.load(spec)
    normspec.check_memory(canon, "weights", label="weights convert", limit=memory_limit)
    weights = read_any(source, canon, allow_cast=allow_cast)
    with output_folder(output.parent, output):
        write_any(output, canon, weights)
    click.echo(f"{source} -> {output}")


@weights.command()
@SPEC
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("-o", "--output", required=True, type=FILE, help="Target file; type by suffix.")
@MEMORY_LIMIT
@reports_errors
def init(spec: Path, seed: int, output: Path, memory_limit: int | None) -> None:
    """Deterministic initial weights of SPEC, drawn with numpy from its initializers.

    \b
    Example:
      normspec weights init specs/lenet5.yaml --seed 0 -o lenet5.safetensors
    """
    import normspec
    from normspec.backends.native import write_any
    from normspec.weights import init_weights

    canon = normspec.load(spec)
    normspec.check_memory(canon, "weights", label="weights init", limit=memory_limit)
    weights = init_weights(canon, seed)
    with output_folder(output.parent, output):
        write_any(output, canon, weights)
    click.echo(f"wrote {output}")


COMMANDS = [weights]
