"""Crafted and corrupt .npz data files are refused with a DataError naming the file and the
member, before anything large is read or allocated; what numpy writes still loads."""

from __future__ import annotations

import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from normspec.cli import main
from normspec.run import data_files
from normspec.run.data import DataError, load_dataset

# --- 2. crafted .npz files ---------------------------------------------------------------------

MLP = ROOT / "specs" / "mlp.yaml"  # input (8, 8, 1), 10 softmax classes
X_HEADER = {"descr": "<f4", "fortran_order": False, "shape": (20, 8, 8, 1)}


def npy(header: dict[str, Any] | str, data: bytes = b"", version: tuple[int, int] = (1, 0)):
    """A .npy member: magic, header text (a dict's repr unless given as text), data."""
    text = (header if isinstance(header, str) else repr(header)).encode("latin-1")
    length = "<H" if version == (1, 0) else "<I"
    prefix = 6 + 2 + struct.calcsize(length)
    text += b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(length, len(text)) + text + data


def labels() -> bytes:
    return npy({"descr": "<i8", "fortran_order": False, "shape": (20,)}, bytes(160))


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, output


CRAFTED_X: dict[str, tuple[bytes, str]] = {
    # an x_train.npy member (next to a good y_train.npy) and what the error says about it
    "huge-shape": (
        npy({**X_HEADER, "shape": (1_000_000, 4_000_000)}, bytes(64)),
        "array x_train declares shape (1000000, 4000000) of float32 (14.6 TiB) but the member "
        "holds 64 bytes of data",
    ),
    "bad-header": (
        npy("{'descr': '<f4', 'fortran_order': False, 'shape': ("),
        "array x_train has a bad .npy header (",
    ),
    "wrong-header-keys": (npy({**X_HEADER, "extra": 1}), "array x_train has a bad .npy header ("),
    "not-npy": (b"plain text, not an array\n", "array x_train is not a .npy array ("),
    "empty-member": (b"", "array x_train is not a .npy array ("),
    "object-dtype": (
        npy({**X_HEADER, "descr": "|O"}, pickle.dumps([1.0] * 1280)),
        "array x_train is not numeric (dtype object)",
    ),
    "structured-dtype": (
        npy({**X_HEADER, "descr": [("a", "<f4", (8,))]}),
        "array x_train is not numeric",
    ),
    "negative-shape": (
        npy({**X_HEADER, "shape": (-20, 8, 8, 1)}),
        "array x_train declares a negative size in shape (-20, 8, 8, 1)",
    ),
    "scalar": (npy({**X_HEADER, "shape": ()}, bytes(4)), "array x_train is a scalar"),
    "short-data": (
        npy(X_HEADER, bytes(100)),
        "array x_train declares shape (20, 8, 8, 1) of float32 (5.0 KiB) but the member holds "
        "100 bytes of data",
    ),
    "npy-version-3": (
        npy(X_HEADER, bytes(5120), (3, 0)),
        "array x_train has a .npy format (3, 0) normspec does not read",
    ),
}


@pytest.mark.parametrize("case", list(CRAFTED_X))
def test_a_crafted_npz_member_is_refused_by_train(tmp_path: Path, case: str) -> None:
    content, message = CRAFTED_X[case]
    path = write_zip(tmp_path / "d.npz", {"x_train.npy": content, "y_train.npy": labels()})
    code, out = run("train", MLP, "--epochs", "1", "--data", path, "--out", tmp_path / "run")
    assert code == 2
    assert f"error: {path}, member x_train.npy: {message}" in out, out
    assert not (tmp_path / "run").exists()


def test_a_member_without_the_npy_suffix_is_named(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "d.npz", {"x_train": b"text", "y_train.npy": labels()})
    with pytest.raises(DataError, match=re.escape(f"{path}, member x_train: array x_train is not")):
        load_dataset(str(path))


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:
    """The member declares 8 GiB of float32 and expands to 8 MiB of zeros: refused after its
    header, without decompressing the rest."""
    bomb = npy({**X_HEADER, "shape": (2**31,)}, bytes(8 * 2**20))
    path = write_zip(
        tmp_path / "bomb.npz", {"x_train.npy": bomb, "y_train.npy": labels()}, zipfile.ZIP_DEFLATED
    )
    assert path.stat().st_size < 100_000
    returned = []
    read = zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: returned.append(len(r := read(self, n))) or r
    )
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    assert str(info.value) == (
        f"{path}, member x_train.npy: array x_train declares shape (2147483648,) of float32 "
        "(8.0 GiB) but the member holds 8.0 MiB of data"
    )
    assert sum(returned) < 4096


def test_the_size_limit_is_checked_before_decompression(tmp_path: Path, monkeypatch) -> None:
    path = write_zip(
        tmp_path / "d.npz", {"x_train.npy": npy(X_HEADER, bytes(5120)), "y_train.npy": labels()}
    )
    content = bytearray(path.read_bytes())
    directory = content.index(b"PK\x01\x02")  # x_train.npy's central directory entry
    content[directory + 24 : directory + 28] = struct.pack("<I", 0xFFFF_FFF0)  # uncompressed size
    path.write_bytes(content)

    def refuse_to_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member over the size limit was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse_to_open)
    code, out = run("train", MLP, "--epochs", "1", "--data", path, "--out", tmp_path / "run")
    assert code == 2
    assert (
        f"error: {path}, member x_train.npy: array x_train is 4.0 GiB uncompressed, more than "
        "the 2.0 GiB normspec reads from one file"
    ) in out


def test_the_size_limit_covers_all_arrays_together(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((20, 8, 8, 1), np.float32), y_train=np.arange(20) % 10)
    with zipfile.ZipFile(path) as archive:
        sizes = [info.file_size for info in archive.infolist()]
    monkeypatch.setattr(data_files, "NPZ_LIMIT", max(sizes) + 1)
    with pytest.raises(
        DataError, match=r"arrays \['x_train', 'y_train'\] are 5\.\d KiB uncompressed"
    ):
        load_dataset(str(path))


def test_a_corrupt_member_fails_its_crc_check(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "d.npz", {"x_train.npy": npy(X_HEADER, bytes(5120)), "y_train.npy": labels()}
    )
    content = bytearray(path.read_bytes())
    content[content.index(b"\x93NUMPY") + 200] = 1  # a byte of x_train's data
    path.write_bytes(content)
    with pytest.raises(
        DataError,
        match=re.escape(f"{path}, member x_train.npy: cannot read array x_train (Bad CRC-32"),
    ):
        load_dataset(str(path))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(40, dtype=np.float32).reshape(10, 4),
        np.asfortranarray(np.arange(60, dtype=np.float64).reshape(10, 2, 3)),
        np.arange(10, dtype=">i4"),
        np.arange(10) % 2 == 0,
        np.zeros((0, 3), np.uint8),
    ],
    ids=["float32", "fortran-order", "big-endian", "bool", "empty"],
)
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_what_numpy_writes_is_read_as_numpy_reads_it(tmp_path: Path, array, save) -> None:
    path = tmp_path / "d.npz"
    save(path, x_train=array, y_train=np.arange(len(array)), x_test=array[:2], y_test=np.ones(2))
    arrays = data_files.read_npz(path, ["x_train", "y_train"], ["x_test", "y_test"], limit=2**20)
    with np.load(path) as expected:
        assert list(arrays) == ["x_train", "y_train", "x_test", "y_test"]
        for name, value in arrays.items():
            assert value.dtype == expected[name].dtype and value.shape == expected[name].shape
            assert np.array_equal(value, expected[name])
