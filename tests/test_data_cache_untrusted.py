"""Crafted and corrupt Keras-cache data sets (mnist, fashion_mnist, cifar10) are refused with a
DataError naming the file and what is wrong; CIFAR-10's pickled batches cannot run code."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from normspec.cli import main
from normspec.run import data_cache
from normspec.run.data import DataError, load_dataset

CIFAR_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


def cifar_batch(n: int, seed: int = 0) -> dict[bytes, Any]:
    """A CIFAR-10 python batch as the real files hold it (keys are bytes)."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def plant_cifar(
    home: Path,
    batches: dict[str, Any] | None = None,
    protocol: int = 2,
    folder: str = "cifar-10-batches-py",
) -> Path:
    """CIFAR-10 batches in ``home``'s Keras cache (in ``folder``): well-formed ones unless
    ``batches`` says otherwise (an object to pickle, or raw bytes to write as they are)."""
    root = home / "datasets" / folder
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(CIFAR_FILES):
        content = (batches or {}).get(name, cifar_batch(4, seed=i))
        if not isinstance(content, bytes):
            content = pickle.dumps(content, protocol=protocol)
        (root / name).write_bytes(content)
    return root


class Exploit:
    """Unpickling this object calls ``action(*args)``."""

    def __init__(self, action: Callable[..., Any], *args: Any) -> None:
        self.action, self.args = action, args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.action, self.args


# --- 1. pickled CIFAR-10 batches ---------------------------------------------------------------


def numpy_1_names(batch: dict[bytes, Any]) -> bytes:
    """A batch pickled as the real (Python 2, numpy 1) files are: numpy.core, not numpy._core."""
    text = pickle.dumps(batch, protocol=2)
    return text.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


@pytest.mark.parametrize("protocol", [2, 4, 5, "numpy-1-names"])
def test_a_well_formed_cifar_cache_loads(tmp_path: Path, monkeypatch, protocol: Any) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    if protocol == "numpy-1-names":
        plant_cifar(
            tmp_path, {name: numpy_1_names(cifar_batch(4, i)) for i, name in enumerate(CIFAR_FILES)}
        )
    else:
        plant_cifar(tmp_path, protocol=protocol)
    data = load_dataset("cifar10", validation_split=0.25)
    assert data.x_train.shape == (15, 32, 32, 3) and data.x_val.shape == (5, 32, 32, 3)
    assert data.x_test is not None and data.x_test.shape == (4, 32, 32, 3)
    test = cifar_batch(4, seed=5)
    expected = test[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(data.x_test, expected.astype(np.float32))
    assert data.y_test is not None and data.y_test.tolist() == test[b"labels"]


def test_cifar_where_keras_3_extracts_it_loads(tmp_path: Path, monkeypatch) -> None:
    """Recent Keras versions extract CIFAR-10's batches one folder deeper than older ones;
    normspec reads either."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    plant_cifar(tmp_path, folder="cifar-10-batches-py-target/cifar-10-batches-py")
    data = load_dataset("cifar10", validation_split=0.25)
    assert data.x_train.shape == (15, 32, 32, 3) and data.y_test is not None
    assert data.y_test.tolist() == cifar_batch(4, seed=5)[b"labels"]


def poisoned_labels(action: Callable[..., Any], *args: Any) -> dict[bytes, Any]:
    batch = cifar_batch(4)
    batch[b"labels"] = Exploit(action, *args)
    return batch


def object_data(marker: Path) -> dict[bytes, Any]:
    batch = cifar_batch(4)
    batch[b"data"] = np.array([str(marker)] * 4, dtype=object)
    return batch


POISONED: dict[str, tuple[Callable[[Path], Any], str]] = {
    # a batch whose unpickling would create ``marker``, and what the error says is refused
    "os.system": (
        lambda marker: poisoned_labels(os.system, f"touch {marker}"),
        f"global {os.system.__module__}.system",
    ),
    "open": (lambda marker: poisoned_labels(open, str(marker), "w"), "global io.open"),
    "eval-protocol-0": (
        lambda marker: f"cbuiltins\neval\n(Vopen({str(marker)!r}, 'w')\ntR.".encode(),
        "global builtins.eval",
    ),
    "object-array": (object_data, "an array of dtype object"),
    "escaped-name": (
        lambda marker: f"cos\nsystem\x1b[2J\n(Vtouch {marker}\ntR.".encode(),
        "global os.system\\x1b[2J",
    ),
}


@pytest.mark.parametrize("case", list(POISONED))
def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, monkeypatch, case: str) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    marker = tmp_path / "marker"
    make, refused = POISONED[case]
    root = plant_cifar(tmp_path, {"data_batch_3": make(marker)})
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    assert not marker.exists()
    message = str(info.value)
    assert message.startswith(f"{root / 'data_batch_3'}: refused {refused};")
    assert "\x1b" not in message


# --- 3. corrupt Keras-cache data sets ----------------------------------------------------------

FASHION = {  # file stem: header bytes, bytes per sample
    "train-images-idx3-ubyte": (16, 784),
    "t10k-images-idx3-ubyte": (16, 784),
    "train-labels-idx1-ubyte": (8, 1),
    "t10k-labels-idx1-ubyte": (8, 1),
}


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def fashion_file(stem: str, samples: int = 4) -> bytes:
    header, size = FASHION[stem]
    return gzipped(bytes(header) + (np.arange(samples * size) % 10).astype(np.uint8).tobytes())


def mnist_arrays(**changes: Any) -> dict[str, Any]:
    arrays = {
        "x_train": np.zeros((8, 28, 28), np.uint8),
        "y_train": np.arange(8) % 10,
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.arange(2),
    }
    return {name: a for name, a in {**arrays, **changes}.items() if a is not None}


def mnist_npz(**changes: Any) -> bytes:
    out = io.BytesIO()
    np.savez(out, **mnist_arrays(**changes))
    return out.getvalue()


def batch_with(**changes: Any) -> dict[bytes, Any]:
    batch = cifar_batch(4)
    for key, value in changes.items():
        if value is None:
            del batch[key.encode()]
        else:
            batch[key.encode()] = value
    return batch


def pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=2)


CORRUPT: dict[str, tuple[str, str, bytes, str]] = {
    # case: data set, file in its cache folder, its content, what the error says after "<file>: "
    "mnist-not-a-zip": ("mnist", "mnist.npz", b"<html>not found</html>", "not a valid .npz file"),
    "mnist-truncated": ("mnist", "mnist.npz", mnist_npz()[:300], "not a valid .npz file ("),
    "mnist-no-y_train": (
        "mnist",
        "mnist.npz",
        mnist_npz(y_train=None),
        "missing arrays ['y_train'] (has ['x_train', 'x_test', 'y_test'])",
    ),
    "mnist-no-test-split": (
        "mnist",
        "mnist.npz",
        mnist_npz(x_test=None, y_test=None),
        "missing arrays ['x_test', 'y_test']",
    ),
    "mnist-text-labels": (
        "mnist",
        "mnist.npz",
        mnist_npz(y_train=np.array(["one"] * 8)),
        "array y_train is not numeric (dtype <U3)",
    ),
    "fashion-not-gzip": (
        "fashion_mnist",
        "fashion-mnist/train-images-idx3-ubyte.gz",
        b"not compressed at all",
        "not a readable gzip file (Not a gzipped file",
    ),
    "fashion-truncated-gzip": (
        "fashion_mnist",
        "fashion-mnist/t10k-images-idx3-ubyte.gz",
        fashion_file("t10k-images-idx3-ubyte")[:-20],
        "not a readable gzip file (Compressed file ended before the end-of-stream marker",
    ),
    "fashion-shorter-than-header": (
        "fashion_mnist",
        "fashion-mnist/train-labels-idx1-ubyte.gz",
        gzipped(bytes(5)),
        "holds 5 bytes, fewer than its 8-byte header",
    ),
    "fashion-partial-image": (
        "fashion_mnist",
        "fashion-mnist/train-images-idx3-ubyte.gz",
        gzipped(bytes(16 + 784 * 3 + 100)),
        "holds 2452 bytes of pixels, not a whole number of 28x28 images (784 bytes each)",
    ),
    "fashion-empty": (
        "fashion_mnist",
        "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        b"",
        "holds 0 bytes",
    ),
    "cifar-empty": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        b"",
        "not a CIFAR-10 batch (Ran out of input)",
    ),
    "cifar-truncated": (
        "cifar10",
        "cifar-10-batches-py/data_batch_2",
        pickled(cifar_batch(4))[:5000],
        "not a CIFAR-10 batch (",
    ),
    "cifar-not-a-pickle": (
        "cifar10",
        "cifar-10-batches-py/test_batch",
        b"\x89PNG\r\n\x1a\n",
        "not a CIFAR-10 batch (",
    ),
    "cifar-a-list": (
        "cifar10",
        "cifar-10-batches-py/data_batch_5",
        pickled([1, 2, 3]),
        "holds a list, not a CIFAR-10 batch (a dict with b'data' and b'labels')",
    ),
    "cifar-no-labels": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(labels=None)),
        "a CIFAR-10 batch needs b'data' and b'labels'; it lacks b'labels'",
    ),
    "cifar-data-shape": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(data=np.zeros((4, 1000), np.uint8))),
        "b'data' is a uint8 array of shape (4, 1000), not rows of 3072 bytes (32x32 pixels, 3 channels)",
    ),
    "cifar-data-float": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(data=np.zeros((4, 3072)))),
        "b'data' is a float64 array of shape (4, 3072), not rows of 3072 bytes",
    ),
    "cifar-data-bytes": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(data=bytes(3072 * 4))),
        "b'data' is a bytes, not rows of 3072 bytes",
    ),
    "cifar-text-labels": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(labels=[b"cat"] * 4)),
        "b'labels' are not a list of class ids",
    ),
    "cifar-ragged-labels": (
        "cifar10",
        "cifar-10-batches-py/data_batch_1",
        pickled(batch_with(labels=[1, [2, 3], 4, 5])),
        "b'labels' are not a list of class ids",
    ),
    "cifar-too-few-labels": (
        "cifar10",
        "cifar-10-batches-py/data_batch_4",
        pickled(batch_with(labels=[1, 2, 3])),
        "has 4 images but 3 labels",
    ),
}


def plant_keras_cache(home: Path, name: str) -> Path:
    """A well-formed ``name`` in ``home``'s Keras cache; its folder."""
    root = home / "datasets"
    if name == "cifar10":
        plant_cifar(home)
    elif name == "fashion_mnist":
        (root / "fashion-mnist").mkdir(parents=True)
        for stem in FASHION:
            (root / "fashion-mnist" / f"{stem}.gz").write_bytes(fashion_file(stem))
    else:
        root.mkdir(parents=True)
        (root / "mnist.npz").write_bytes(mnist_npz())
    return root


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_corrupt_keras_cache_file_is_named(tmp_path: Path, monkeypatch, case: str) -> None:
    name, file, content, message = CORRUPT[case]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    root = plant_keras_cache(tmp_path, name)
    load_dataset(name)  # well-formed, it loads
    (root / file).write_bytes(content)
    with pytest.raises(DataError) as info:
        load_dataset(name)
    text = str(info.value)
    assert text.startswith(f"{root / file}: ") or text.startswith(f"{root / file}, member ")
    assert message in text, text


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("mnist", "mnist.npz"),
        ("fashion_mnist", "fashion-mnist/t10k-labels-idx1-ubyte.gz"),
        ("cifar10", "cifar-10-batches-py/data_batch_4"),
    ],
)
def test_a_missing_keras_cache_file_is_named(tmp_path: Path, monkeypatch, name, file) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    root = plant_keras_cache(tmp_path, name)
    (root / file).unlink()
    with pytest.raises(
        DataError, match=re.escape(f"'{name}' is not in the Keras cache ({root / file})")
    ):
        load_dataset(name)


@pytest.mark.parametrize(
    ("name", "file", "content"),
    [
        ("mnist", "mnist.npz", mnist_npz(x_train=np.zeros((200, 28, 28), np.uint8))),
        (
            "fashion_mnist",
            "fashion-mnist/train-images-idx3-ubyte.gz",
            fashion_file("train-images-idx3-ubyte", 200),
        ),
        ("cifar10", "cifar-10-batches-py/data_batch_1", pickled(cifar_batch(50))),
    ],
)
def test_a_keras_cache_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch, name: str, file: str, content: bytes
) -> None:
    """The limit (256 MiB, set lower here) stops a decompression bomb in the cache."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    root = plant_keras_cache(tmp_path, name)
    (root / file).write_bytes(content)
    monkeypatch.setattr(data_cache, "CACHE_FILE_LIMIT", 100_000)
    with pytest.raises(DataError, match=re.escape(f"{root / file}")) as info:
        load_dataset(name)
    assert "more than the 97.7 KiB normspec reads from one file" in str(info.value)


@pytest.mark.parametrize("case", ["os.system", "cifar-truncated", "fashion-not-gzip"])
def test_train_on_a_bad_cache_exits_2_with_the_message(tmp_path: Path, monkeypatch, case) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    marker = tmp_path / "marker"
    if case in POISONED:
        name, file, content = (
            "cifar10",
            "cifar-10-batches-py/data_batch_1",
            POISONED[case][0](marker),
        )
        root = plant_cifar(tmp_path, {"data_batch_1": content}).parent
    else:
        name, file, content, _ = CORRUPT[case]
        root = plant_keras_cache(tmp_path, name)
        (root / file).write_bytes(content)
    spec = ROOT / "specs" / "mlp.yaml"
    result = CliRunner().invoke(
        main, ["train", str(spec), "--data", name, "--out", str(tmp_path / "run")]
    )
    output = result.stdout + result.stderr
    assert result.exit_code == 2, output
    assert f"error: {root / file}" in output and "Traceback" not in output
    assert not marker.exists() and not (tmp_path / "run").exists()
