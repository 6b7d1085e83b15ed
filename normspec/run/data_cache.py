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

from normspec.run.data_files import NUMERIC, DataError
from normspec.weight_checks import printable

KERAS_CACHED = ("mnist", "fashion_mnist", "cifar10")


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME/datasets`` or ~/.keras/datasets)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def from_keras_cache(name: str) -> tuple[np.ndarray, ...]:
    """x_train, y_train, x_test, y_test of a data set in the Keras cache."""
    root = keras_cache_dir()
    try:
        if name == "mnist":
            with np.load(root / "mnist.npz") as f:
                arrays = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
            return tuple(a[..., None] if a.ndim == 3 else a for a in arrays)
        if name == "fashion_mnist":
            return _fashion(root / "fashion-mnist")
        return _cifar10(root / "cifar-10-batches-py")
    except FileNotFoundError as exc:
        raise DataError(
            f"data set '{name}' is not in the Keras cache ({exc.filename}) and normspec does not "
            "download; fetch it once with keras.datasets, or pass --data FILE.npz"
        ) from None


def _fashion(root: Path) -> tuple[np.ndarray, ...]:
    def read(stem: str, offset: int) -> np.ndarray:
        with gzip.open(root / f"{stem}.gz", "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    x_train = read("train-images-idx3-ubyte", 16).reshape(-1, 28, 28, 1)
    x_test = read("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28, 1)
    y_train, y_test = read("train-labels-idx1-ubyte", 8), read("t10k-labels-idx1-ubyte", 8)
    return x_train, y_train, x_test, y_test


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
    return _RECONSTRUCT(np.ndarray, (0,), "b")  # type: ignore[no-any-return]


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
    with open(path, "rb") as f:
        try:
            d = load_pickle(f)
        except _Refused as exc:
            raise DataError(
                f"{path}: refused {exc}; a CIFAR-10 batch holds only a dict of bytes, lists, ints "
                "and numpy arrays"
            ) from None
    x = np.asarray(d[b"data"]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d[b"labels"])


def _cifar10(root: Path) -> tuple[np.ndarray, ...]:
    parts = [_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(root / "test_batch")
    x_train = np.concatenate([p[0] for p in parts])
    return x_train, np.concatenate([p[1] for p in parts]), x_test, y_test
