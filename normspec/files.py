"""How normspec writes files: every file appears complete or not at all, and never through a
link planted at its path; a run's folder is filled out of sight and moved into place whole.

One rule, used by every writer: the data goes to a temporary file created exclusively (random
name, ``O_EXCL``, in the destination's folder), which is then renamed over the destination. A
rename replaces a symbolic link instead of following it, and an interrupted write leaves the
destination as it was; the temporary file is removed on any failure, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from normspec.errors import NormspecError


class OutputError(NormspecError):
    """An output file or folder cannot be written."""


RUN_FILES = frozenset(
    {"metrics.json", "metrics.csv", "weights.safetensors", "report.md", "report.html",
     "curves.png",
     "over_seeds.csv",
     "diagnostics.csv", "diagnostics_histograms.png",
     *(f"diagnostics_{stat}.png" for stat in ("dead_fraction", "saturated_fraction", "std",
                                               "variance_shift", "update_ratio",
                                               "grad_norm"))}
)  # fmt: skip
"""The files normspec writes into a run folder (``train``, ``compare --train``, ``ablate``)."""


def cannot_write(target: Path, exc: OSError) -> OutputError:
    """``cannot write TARGET: <reason>`` for an OS error met while writing ``target``."""
    return OutputError(f"cannot write {target}: {exc.strerror or exc}")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def file_mode(path: Path) -> int:
    """The permission bits a file written at ``path`` gets: those of the regular file it
    replaces, else ``0o666`` less the umask (what ``open`` would give; ``tempfile.mkstemp``
    gives ``0o600``). A link at ``path`` is not followed."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0o666 & ~_umask()
    if stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


def _suffix(path: Path) -> str:
    """The temporary name keeps the last two suffixes (``.weights.h5``, ``.png``): some writers
    choose the format by the name."""
    return ".partial" + "".join(path.suffixes[-2:])


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``path`` for a writer that takes a file name;
    when the block succeeds it is renamed over ``path``, otherwise it is removed."""
    path = Path(path)
    mode = file_mode(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_suffix(path))
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` by :func:`replacing`."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` by :func:`replacing`."""
    write_bytes(path, text.encode("utf-8"))


def foreign_entries(folder: Path) -> list[str]:
    """What in ``folder`` normspec did not write: entries other than :data:`RUN_FILES` and
    sub-folders holding only those (``compare --train`` keeps a run per backend)."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_dir():
            foreign.extend(f"{entry.name}/{name}" for name in foreign_entries(entry))
        elif entry.name not in RUN_FILES:
            foreign.append(entry.name)
    return foreign


def check_replaceable(out: Path) -> bool:
    """Whether ``out`` holds earlier results, which a new run replaces. Raise
    :class:`OutputError` if it is not a folder, or holds files normspec did not write."""
    if not os.path.lexists(out):
        return False
    if out.is_symlink() or not out.is_dir():
        raise OutputError(f"cannot write {out}: it exists and is not a folder")
    try:
        foreign = foreign_entries(out)
        empty = not any(out.iterdir())
    except OSError as exc:
        raise cannot_write(out, exc) from None
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputError(
            f"cannot write {out}: it holds files normspec did not write ({shown}); "
            "choose another folder or move them"
        )
    return not empty


@contextlib.contextmanager
def run_folder(out: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out`` to write a run into; when the block
    succeeds it replaces ``out`` whole (earlier results there are removed), otherwise it is
    removed and ``out`` stays as it was. ``out``'s parent must exist."""
    check_replaceable(out)
    try:
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    except OSError as exc:
        raise cannot_write(out, exc) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, out: Path) -> None:
    check_replaceable(out)  # again: it may have changed while the run was being written
    old = None
    if os.path.lexists(out):
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        os.replace(out, old / "run")
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            os.replace(old / "run", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
