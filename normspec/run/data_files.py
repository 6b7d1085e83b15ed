"""Reading data files, which are untrusted input: every failure is a :class:`DataError` that
names the file and what is wrong, and sizes are checked before anything large is read.

An ``.npz`` is opened as the zip archive it is: each wanted member's uncompressed size is
checked against :data:`NPZ_LIMIT` before it is opened, its ``.npy`` header is read and checked
(numeric dtype, a shape whose bytes the member holds) before its data, and the data is read
into an array of exactly that size. Nothing is unpickled."""

from __future__ import annotations

import contextlib
import math
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy

from normspec.errors import NormspecError
from normspec.weight_checks import printable, reason_of


class DataError(NormspecError):
    """A data set cannot be loaded."""


MiB = 2**20
GiB = 2**30
NUMERIC = "biuf"  # bool, signed and unsigned integers, floats
NPZ_LIMIT = 2 * GiB
"""The most normspec reads from one ``.npz``: the uncompressed size of the arrays it uses."""

_NPZ_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive of .npy files (numpy.savez)
_CHUNK = 16 * MiB


def size_text(size: int) -> str:
    """A byte count for people: ``'512 bytes'``, ``'3.0 MiB'``, ``'14.6 TiB'``."""
    if size < 1024:
        return f"{size} bytes"
    units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
    value, unit = size / 1024, 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.1f} {units[unit]}"


@contextlib.contextmanager
def reading(where: object, failure: str) -> Iterator[None]:
    """Turn whatever goes wrong in the block into ``DataError("<where>: <failure> (<reason>)")``;
    normspec's own errors and a missing file pass through."""
    try:
        yield
    except (NormspecError, FileNotFoundError):
        raise
    except Exception as exc:  # every parser raises its own error types on a crafted file
        raise DataError(f"{where}: {failure} ({reason_of(exc)})") from None


def read_npz(
    path: Path, required: Sequence[str], optional: Sequence[str] = (), *, limit: int | None = None
) -> dict[str, np.ndarray]:
    """The ``required`` arrays of the ``.npz`` at ``path``, and the ``optional`` ones if it has
    them all; at most ``limit`` bytes of them (:data:`NPZ_LIMIT` unless given). A missing file
    raises FileNotFoundError, anything else that is wrong :class:`DataError`."""
    _check_npz_magic(path)
    with reading(path, "not a valid .npz file"), zipfile.ZipFile(path) as archive:
        members = _npy_members(archive)
        missing = [name for name in required if name not in members]
        if missing:
            raise DataError(f"{path}: missing arrays {missing} (has {printable(list(members))})")
        names = [*required, *optional] if set(optional) <= set(members) else [*required]
        infos = {name: members[name] for name in names}
        _check_sizes(path, infos, NPZ_LIMIT if limit is None else limit)
        return {name: _read_member(path, archive, name, info) for name, info in infos.items()}


def _check_npz_magic(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPZ_MAGIC))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DataError(f"{path}: cannot read as .npz ({reason_of(exc)})") from None
    if magic != _NPZ_MAGIC:
        raise DataError(
            f"{path}: not a valid .npz file (expected a zip archive of arrays, "
            "as numpy.savez writes)"
        )


def _npy_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The members by array name, as numpy.load names them (``x.npy`` holds array ``x``)."""
    infos = archive.infolist()
    return {info.filename.removesuffix(".npy"): info for info in infos}


def _member(path: Path, info: zipfile.ZipInfo) -> str:
    return f"{path}, member {printable(info.filename)}"


def _check_sizes(path: Path, infos: dict[str, zipfile.ZipInfo], limit: int) -> None:
    """Refuse, from the archive's directory alone, members that uncompress to over ``limit``."""
    for name, info in infos.items():
        if info.file_size > limit:
            raise DataError(
                f"{_member(path, info)}: array {name} is {size_text(info.file_size)} "
                f"uncompressed, more than the {size_text(limit)} normspec reads from one file"
            )
    total = sum(info.file_size for info in infos.values())
    if total > limit:
        raise DataError(
            f"{path}: arrays {list(infos)} are {size_text(total)} uncompressed, more than the "
            f"{size_text(limit)} normspec reads from one file"
        )


def _read_member(
    path: Path, archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo
) -> np.ndarray:
    where = _member(path, info)
    with reading(where, f"cannot read array {name}"), archive.open(info) as fp:
        shape, fortran, dtype = _read_header(where, name, fp)
        size = math.prod(shape) * dtype.itemsize
        held = info.file_size - fp.tell()
        if size > held:
            raise DataError(
                f"{where}: array {name} declares shape {shape} of {dtype} ({size_text(size)}) "
                f"but the member holds {size_text(max(held, 0))} of data"
            )
        data = _read_exactly(fp, size)
        fp.read(1)  # at the member's end, zipfile checks its CRC
    flat = np.frombuffer(data, dtype=dtype)
    return flat.reshape(shape, order="F" if fortran else "C")


def _read_header(where: str, name: str, fp: IO[bytes]) -> tuple[tuple[int, ...], bool, Any]:
    """Shape, Fortran order and dtype from a ``.npy`` header, refused unless numeric."""
    with reading(where, f"array {name} is not a .npy array"):
        version = npy.read_magic(fp)
    if version not in ((1, 0), (2, 0)):
        raise DataError(f"{where}: array {name} has a .npy format {version} normspec does not read")
    with reading(where, f"array {name} has a bad .npy header"):
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read(fp)
    if dtype.kind not in NUMERIC:
        raise DataError(f"{where}: array {name} is not numeric (dtype {printable(dtype, 80)})")
    if not shape:
        raise DataError(f"{where}: array {name} is a scalar, not one entry per sample")
    if min(shape) < 0:
        raise DataError(f"{where}: array {name} declares a negative size in shape {shape}")
    return shape, fortran, dtype


def _read_exactly(fp: IO[bytes], size: int) -> bytearray:
    """``size`` bytes from ``fp``, read in chunks into one buffer (no second copy)."""
    data = bytearray(size)
    done = 0
    while done < size:
        chunk = fp.read(min(_CHUNK, size - done))
        if not chunk:
            raise EOFError(f"the data ends after {done} of its {size} bytes")
        data[done : done + len(chunk)] = chunk
        done += len(chunk)
    return data
