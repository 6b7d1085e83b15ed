"""The ``normspec`` command line. Invalid specs exit with status 2 and located messages."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from normspec import __version__
from normspec.commands import CommandGroup
from normspec.errors import NormspecError, SpecError
from normspec.files import (
    OutputError,
    cannot_write,
    check_replaceable,
    run_folder,
    write_text,
)
from normspec.ir import constraints
from normspec.short_lived import short_lived

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def reports_errors(fn: F) -> F:
    """Turn normspec errors into messages on stderr and exit status 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            count = len(exc.problems)
            click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
            sys.exit(EXIT_INVALID)
        except NormspecError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        except KeyboardInterrupt:  # what was being written is removed: see normspec.files
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def output_folder(folder: Path, target: Path | None = None) -> Iterator[Path]:
    """Make sure ``folder`` exists and can be written into, creating it (and missing parents) if
    need be, before the work that fills it; raise :class:`OutputError` naming ``target`` (default:
    the folder) otherwise. If the block fails, the folders created here are removed again."""
    target = folder if target is None else target
    missing: list[Path] = []
    existing = folder
    try:
        while not existing.exists() and existing.parent != existing:
            missing.append(existing)
            existing = existing.parent
        is_folder = existing.is_dir()
    except OSError as exc:
        raise cannot_write(target, exc) from None
    if not is_folder:
        raise OutputError(f"cannot write {target}: {existing} is not a folder")
    created: list[Path] = []

    def remove_created() -> None:
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:  # no longer empty: keep it and its parents
                break

    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".normspec-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        remove_created()
        raise cannot_write(target, exc) from None
    try:
        yield folder
    except BaseException:
        remove_created()
        raise


@contextlib.contextmanager
def run_output(out: Path) -> Iterator[Path]:
    """A fresh folder to write a run into, which replaces ``out`` whole when the block succeeds
    (:func:`normspec.files.run_folder`); says so when that replaces earlier results."""
    with output_folder(out.parent, out):
        replaced = check_replaceable(out)
        try:
            with run_folder(out) as folder:
                yield folder
        except OSError as exc:
            raise cannot_write(out, exc) from None
    if replaced:
        click.echo(f"replaced the earlier results in {out}/", err=True)


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` atomically (never a half-written file), or to stdout."""
    if output is None:
        click.echo(text, nl=False)
        return
    with output_folder(output.parent, output):
        try:
            write_text(output, text)
        except OSError as exc:
            raise cannot_write(output, exc) from None


class FinitePositive(click.ParamType):
    """A float that is finite, greater than 0 and at most ``limit`` (``click.FloatRange`` lets
    nan and inf pass)."""

    name = "float"

    def __init__(self, limit: float = math.inf) -> None:
        self.limit = limit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a finite number > 0.", param, ctx)
        if number > self.limit:
            self.fail(f"{value!r} is above the largest accepted value, {self.limit:g}.", param, ctx)
        return number


class MemorySize(click.ParamType):
    """Bytes, or a number with K, M, G or T (powers of 1024): ``8G``, ``512M``, ``4096``."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from normspec.resources import parse_memory_size

        try:
            return parse_memory_size(value)
        except NormspecError as exc:
            self.fail(str(exc), param, ctx)


MEMORY_LIMIT = click.option(
    "--memory-limit",
    type=MemorySize(),
    help="Refuse to start when the estimated memory is above SIZE (bytes, or e.g. 8G, 512M; "
    "default: this machine's physical memory).",
)


# the ranges a spec's train section accepts (normspec.ir.constraints), so one rule holds for
# each value wherever it comes from
POSITIVE = FinitePositive()
LEARNING_RATE = FinitePositive(constraints.MAX_LEARNING_RATE)
SEED = click.IntRange(0, constraints.MAX_SEED)
BATCH_SIZE = click.IntRange(constraints.MIN_BATCH, constraints.MAX_BATCH)
EPOCHS = click.IntRange(1, constraints.MAX_EPOCHS)


class ThreadCount(click.ParamType):
    """A thread count >= 1, or ``auto``."""

    name = "N|auto"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "auto":
            return value
        text = str(value).strip()
        if text.isdigit() and 1 <= int(text) <= 1024:
            return int(text)
        self.fail(f"{value!r} is neither a thread count (1 to 1024) nor 'auto'", param, ctx)


THREADS = click.option(
    "--threads",
    type=ThreadCount(),
    default="auto",
    show_default=True,
    help="Intra-op threads for PyTorch and TensorFlow (float32 results depend on it). auto: "
    "a training run of a network under 24 MFLOPs of forward pass a batch uses one thread (at "
    "most 1.2x slower there on an idle machine, twice as fast beside another busy process), "
    "anything else the framework's own count. Recorded in metrics.json and the reports.",
)

SPEC = click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE."
)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="normspec")
def main() -> None:
    """Describe a network once in YAML; get the same model in PyTorch, Keras and Flax.

    \b
    Example:
      normspec validate specs/cifar_cnn.yaml
      normspec show specs/cifar_cnn.yaml
      normspec build specs/cifar_cnn.yaml --backend torch -o model.py
    """


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@short_lived
@reports_errors
def validate(specs: tuple[Path, ...]) -> None:
    """Check SPECS; print every problem as FILE:LINE:COL: field.path: message.

    A valid spec may still get warnings (FILE: warning: ...), such as a last layer whose
    activation does not fit the loss; they do not change the exit status.

    For each valid spec, a memory line: parameters, optimizer state (Adam 2 x the trainable
    parameters, SGD with momentum 1 x, plain SGD none), activations at the spec's batch size
    (forward, and 2 x for training) and what training needs in all; and a head line: the ops
    of the output layer, and its norm (the head takes no norm from defaults unless it says so).

    \b
    Example:
      normspec validate specs/*.yaml
    """
    from normspec.ir.output_checks import output_warnings
    from normspec.resources import estimate_memory
    from normspec.spec.canonicalize import load_with_head
    from normspec.summary import memory_line

    problems = []
    for path in specs:
        try:
            spec, head = load_with_head(path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        click.echo(f"{path}: ok ({spec.name}, {len(spec.nodes)} ops, {spec.hash[:19]})")
        click.echo(f"  memory: {memory_line(estimate_memory(spec))}")
        if head is not None:
            click.echo(f"  {head.line()}")
        for warning in output_warnings(spec):
            click.echo(f"{path}: warning: {warning}", err=True)
    if problems:
        raise SpecError(problems)


@main.command()
@SPEC
@click.option("--json", "as_json", is_flag=True, help="JSON instead of YAML.")
@OUTPUT
@short_lived
@reports_errors
def canonical(spec: Path, as_json: bool, output: Path | None) -> None:
    """Print the canonical form of SPEC: every default explicit, shapes inferred.

    The canonical form is itself a valid spec, and canonicalizing it again is byte-identical.

    \b
    Example:
      normspec canonical specs/lenet5.yaml -o lenet5.canonical.yaml
    """
    import normspec
    from normspec.ir.serialize import to_data, to_yaml

    canon = normspec.load(spec)
    if as_json:
        text = json.dumps({"hash": canon.hash, **to_data(canon)}, indent=2) + "\n"
    else:
        text = to_yaml(canon)
    write_output(text, output)


@main.command()
@SPEC
@click.option(
    "--batch-size",
    type=BATCH_SIZE,
    help="Batch size of the activation memory (default: the spec's train.batch_size).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="The same rows and totals as JSON (fields: see docs)."
)
@short_lived
@reports_errors
def show(spec: Path, batch_size: int | None, as_json: bool) -> None:
    """Summary table of SPEC: name, op, output shape, parameters, MACs and FLOPs per op, then
    totals and the memory it needs: parameters, optimizer state, activations at a batch size
    (forward, and 2 x for training) and what training and weights init need in all; then what
    the head (the output layer) got.

    MACs and FLOPs are per sample: FLOPs = 2 x MACs for dense and conv, 1 per input element for
    activations, normalizations, input scaling and pools, 1 per output element for a residual's
    add, 0 for flatten, reshape and dropout. --json prints the rows (name, op, depth,
    output_shape, params, macs, flops, detail) and totals (params, trainable_params,
    non_trainable_params, macs, flops, activation_bytes), memory (parameter_bytes,
    gradient_bytes, optimizer, optimizer_bytes, activation_bytes, training_activation_bytes,
    needs) with name, hash, dtype and batch_size.

    \b
    Example:
      normspec show specs/resnet18.yaml
      normspec show specs/resnet18.yaml --batch-size 128 --json
    """
    from normspec.spec.canonicalize import load_with_head
    from normspec.summary import summary, summary_data

    canon, head = load_with_head(spec)
    if as_json:
        click.echo(json.dumps(summary_data(canon, batch_size), indent=2))
    else:
        click.echo(summary(canon, batch_size), nl=False)
        if head is not None:
            click.echo(head.line()[0].upper() + head.line()[1:])


@main.command()
@OUTPUT
@short_lived
@reports_errors
def schema(output: Path | None) -> None:
    """JSON Schema of the spec format, for editor completion and validation.

    \b
    Example (VS Code YAML extension, in settings.json):
      normspec schema -o normspec.schema.json
      "yaml.schemas": {"./normspec.schema.json": "specs/*.yaml"}
    """
    from normspec.schema import spec_schema

    write_output(json.dumps(spec_schema(), indent=2) + "\n", output)


@main.command()
@SPEC
@click.option(
    "--backend", "-b", required=True, type=click.Choice(["torch", "keras", "flax"]), help="Target."
)
@OUTPUT
@short_lived
@reports_errors
def build(spec: Path, backend: str, output: Path | None) -> None:
    """Emit a standalone model module for BACKEND (imports only that framework).

    \b
    Example:
      normspec build specs/cifar_cnn.yaml --backend torch -o model.py
      python -c "from model import CifarCnn; print(CifarCnn())"
    """
    import normspec

    write_output(normspec.emit(spec, backend), output)
