"""``mnist``, ``fashion_mnist`` and ``cifar10`` from Keras' download cache, read as untrusted
files: CIFAR-10's pickled batches through an unpickler that builds nothing but plain data and
numeric numpy arrays."""

from __future__ import annotations

import gzip
import importlib
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from normspec.run.data_files import NUMERIC, DataError, MiB, read_npz, reading, size_text
from normspec.weight_checks import printable

KERAS_CACHED = ("mnist", "fashion_mnist", "cifar10")
CIFAR_FOLDERS = ("cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py")
"""Where in the cache CIFAR-10's batches are: older Keras versions extract them into the first
folder, recent ones (``keras.datasets.cifar10.load_data()`` in Keras 3.15) into the second."""
CACHE_FILE_LIMIT = 256 * MiB
"""The most normspec reads from one Keras-cache file, decompressed (the real ones hold under
60 MiB each)."""


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME/datasets`` or ~/.keras/datasets)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def from_keras_cache(name: str) -> tuple[np.ndarray, ...]:
    """x_train, y_train, x_test, y_test of a data set in the Keras cache."""
    root = keras_cache_dir()
    try:
        if name == "mnist":
            return _mnist(root / "mnist.npz")
        if name == "fashion_mnist":
            return _fashion(root / "fashion-mnist")
        folders = [root / folder for folder in CIFAR_FOLDERS]
        return _cifar10(next((f for f in folders if f.is_dir()), folders[0]))
    except FileNotFoundError as exc:
        raise DataError(
            f"data set '{name}' is not in the Keras cache ({exc.filename}) and normspec does not "
            "download; fetch it once with keras.datasets, or pass --data FILE.npz"
        ) from None


def _mnist(path: Path) -> tuple[np.ndarray, ...]:
    names = ["x_train", "y_train", "x_test", "y_test"]
    arrays = read_npz(path, names, limit=CACHE_FILE_LIMIT)
    return tuple(a[..., None] if a.ndim == 3 else a for a in arrays.values())


def _fashion(root: Path) -> tuple[np.ndarray, ...]:
    x_train = _images(root / "train-images-idx3-ubyte.gz")
    x_test = _images(root / "t10k-images-idx3-ubyte.gz")
    y_train = _gzipped_bytes(root / "train-labels-idx1-ubyte.gz", 8)
    y_test = _gzipped_bytes(root / "t10k-labels-idx1-ubyte.gz", 8)
    return x_train, y_train, x_test, y_test


def _images(path: Path) -> np.ndarray:
    """28x28 greyscale images from an IDX file after its 16-byte header."""
    pixels = _gzipped_bytes(path, 16)
    if pixels.size % 784:
        raise DataError(
            f"{path}: holds {pixels.size} bytes of pixels, not a whole number of 28x28 images "
            "(784 bytes each)"
        )
    return pixels.reshape(-1, 28, 28, 1)


def _gzipped_bytes(path: Path, header: int) -> np.ndarray:
    """The bytes of a gzipped file after its ``header`` bytes, decompressed only up to
    :data:`CACHE_FILE_LIMIT`."""
    limit = CACHE_FILE_LIMIT
    with reading(path, "not a readable gzip file"), gzip.open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise DataError(
            f"{path}: decompresses to more than the {size_text(limit)} normspec reads from one file"
        )
    if len(data) < header:
        raise DataError(f"{path}: holds {len(data)} bytes, fewer than its {header}-byte header")
    return np.frombuffer(data, np.uint8, offset=header)


# --- CIFAR-10 ----------------------------------------------------------------------------------


def _numpy_function(module: str, name: str) -> Any:
    """``numpy._core.<module>.<name>`` (numpy 2), or ``numpy.core.<module>.<name>`` before."""
    core = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
    return getattr(importlib.import_module(f"{core}.{module}"), name)


_RECONSTRUCT = _numpy_function("multiarray", "_reconstruct")
_FROMBUFFER = _numpy_function("numeric", "_frombuffer")


class _Refused(pickle.UnpicklingError):
    """What the file asks the unpickler to build is not allowed."""


def _empty_array(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct``, for plain arrays only; the pickle's state then fills it in."""
    if subtype is not np.ndarray:
        raise _Refused("an array of a type other than numpy.ndarray")
    return _RECONSTRUCT(np.ndarray, (0,), "b")


def _numeric_dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype[Any]:
    dtype = np.dtype(obj, align=bool(align), copy=bool(copy))
    if dtype.kind not in NUMERIC:
        raise _Refused(f"an array of dtype {printable(str(dtype), 60)}")
    return dtype


def _latin1_bytes(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode`` as pickle protocols 0-2 use it, to store bytes as latin-1 text."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode used for anything but bytes")
    return text.encode("latin-1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numeric_dtype,
    ("_codecs", "encode"): _latin1_bytes,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _empty_array for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _FROMBUFFER for core in ("core", "_core")},
}
"""What a CIFAR-10 batch may ask the unpickler for: its dict, lists, bytes, text and ints need
no global; a numpy array needs these (``numpy.core`` in the real files, ``numpy._core`` when
numpy 2 wrote them)."""


class _DataUnpickler(pickle.Unpickler):
    """Builds plain data and numeric numpy arrays; any other global is refused, so the file
    cannot make it call anything."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        raise _Refused(f"global {printable(f'{module}.{name}', 200)}")


def load_pickle(f: BinaryIO) -> Any:
    """The data pickled in ``f`` (as Python 2 wrote CIFAR-10: bytes stay bytes)."""
    return _DataUnpickler(f, encoding="bytes").load()


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) and labels (N,) of one CIFAR-10 batch file."""
    with reading(path, "not a CIFAR-10 batch"):
        size = path.stat().st_size
        if size > CACHE_FILE_LIMIT:
            raise DataError(
                f"{path}: is {size_text(size)}, more than the {size_text(CACHE_FILE_LIMIT)} "
                "normspec reads from one file"
            )
        with open(path, "rb") as f:
            try:
                batch = load_pickle(f)
            except _Refused as exc:
                raise DataError(
                    f"{path}: refused {exc}; a CIFAR-10 batch holds only a dict of bytes, lists, "
                    "ints and numpy arrays"
                ) from None
        return _batch_arrays(path, batch)


def _batch_arrays(path: Path, batch: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(batch, dict):
        raise DataError(
            f"{path}: holds a {type(batch).__name__}, not a CIFAR-10 batch "
            "(a dict with b'data' and b'labels')"
        )
    missing = [repr(key) for key in (b"data", b"labels") if key not in batch]
    if missing:
        raise DataError(
            f"{path}: a CIFAR-10 batch needs b'data' and b'labels'; it lacks {', '.join(missing)}"
        )
    data, labels = batch[b"data"], batch[b"labels"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (3072,)):
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else ""
        raise DataError(
            f"{path}: b'data' is a {what or type(data).__name__}, not rows of 3072 bytes "
            "(32x32 pixels, 3 channels)"
        )
    y = _class_ids(labels)
    if y is None:
        raise DataError(f"{path}: b'labels' are not a list of class ids")
    if len(y) != len(data):
        raise DataError(f"{path}: has {len(data)} images but {len(y)} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


def _class_ids(labels: Any) -> np.ndarray | None:
    """``labels`` as a 1-D integer array, or None if they are not a list of integers."""
    if not isinstance(labels, list | np.ndarray):
        return None
    try:
        y = np.asarray(labels)
    except ValueError:  # a ragged list
        return None
    return y if y.ndim == 1 and y.dtype.kind in "iu" else None


def _cifar10(root: Path) -> tuple[np.ndarray, ...]:
    parts = [_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(root / "test_batch")
    x_train = np.concatenate([p[0] for p in parts])
    return x_train, np.concatenate([p[1] for p in parts]), x_test, y_test
