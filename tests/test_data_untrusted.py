"""Data files are untrusted input: a crafted or corrupt file is refused with a DataError that
names the file and what is wrong, before it can run code or exhaust memory."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

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


def plant_cifar(home: Path, batches: dict[str, Any] | None = None, protocol: int = 2) -> Path:
    """CIFAR-10 batches in ``home``'s Keras cache: well-formed ones unless ``batches`` says
    otherwise (an object to pickle, or raw bytes to write as they are)."""
    root = home / "datasets" / "cifar-10-batches-py"
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
