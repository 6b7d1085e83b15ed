"""The ``normspec`` command line. Invalid specs exit with status 2 and located messages."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
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
from normspec.short_lived import short_lived

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INVALID = 2


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

    return wrapper  # type: ignore[return-value]


class OutputError(NormspecError):
    """An output file or folder cannot be written."""


def cannot_write(target: Path, exc: OSError) -> OutputError:
    """``cannot write TARGET: <reason>`` for an OS error met while writing ``target``."""
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


def file_mode(path: Path) -> int:
    """The permission bits a file written at ``path`` gets: those of the file it replaces, else
    ``0o666`` less the umask (what ``open`` would give; ``tempfile.mkstemp`` gives ``0o600``)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` atomically (never a half-written file), or to stdout."""
    if output is None:
        click.echo(text, nl=False)
        return
    with output_folder(output.parent, output):
        mode = file_mode(output)
        try:
            fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
        except OSError as exc:
            raise cannot_write(output, exc) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, output)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise cannot_write(output, exc) from None
            raise


class FinitePositive(click.ParamType):
    """A float that is finite and greater than 0 (``click.FloatRange`` lets nan and inf pass)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a finite number > 0.", param, ctx)
        return number


POSITIVE = FinitePositive()
SEED = click.IntRange(0, 2**31 - 1)  # the range a spec's train.seed accepts


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

    \b
    Example:
      normspec validate specs/*.yaml
    """
    import normspec

    problems = []
    for path in specs:
        try:
            spec = normspec.load(path)
            click.echo(f"{path}: ok ({spec.name}, {len(list(spec.walk()))} ops, {spec.hash[:19]})")
        except SpecError as exc:
            problems.extend(exc.problems)
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
@short_lived
@reports_errors
def show(spec: Path) -> None:
    """Summary table of SPEC: name, op, output shape, parameters, totals.

    \b
    Example:
      normspec show specs/resnet18.yaml
    """
    import normspec
    from normspec.summary import summary

    click.echo(summary(normspec.load(spec)), nl=False)


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
