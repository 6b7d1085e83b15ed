"""Data sets as numpy arrays, with the same batches in the same order for every backend.

Built-ins that work offline: ``digits`` (scikit-learn's bundled 8x8 digits as 8x8x1 images),
``threshold`` (x = 0 ... 24,999 as one unscaled feature, y = 1 where x >= 12,500), ``moons``
(two interleaved half circles) and ``synthetic_cifar`` (32x32x3 images in 10 classes, generated).
Any ``.npz`` with x_train, y_train (and optionally x_test, y_test). ``mnist``, ``fashion_mnist``
and ``cifar10`` are read from Keras' download cache when they are there.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from normspec.ir.graph import CanonicalSpec
from normspec.run.data_cache import KERAS_CACHED, from_keras_cache
from normspec.run.data_files import NUMERIC, DataError, read_npz


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1 if self.y_train.dtype.kind in "iu" else 1


def _digits_file() -> Path | None:
    """scikit-learn's own copy of the digits (``datasets/data/digits.csv.gz``), found without
    importing scikit-learn (which takes most of a second)."""
    found = importlib.util.find_spec("sklearn")
    if found is None or found.origin is None:
        return None
    path = Path(found.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def _digits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: read from its file (64 pixels, then the label, per row),
    as ``sklearn.datasets.load_digits`` reads it, or through that function."""
    path = _digits_file()
    if path is not None:
        table = np.loadtxt(path, delimiter=",")
        return table[:, :-1].reshape(-1, 8, 8, 1).astype(np.float32), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[..., None].astype(np.float32), bunch.target.astype(np.int64)


def _threshold(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(25_000, dtype=np.float32)[:, None]
    return x, (x[:, 0] >= 12_500).astype(np.int64)


def _moons(seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=2_000, noise=0.2, random_state=seed)
    return x.astype(np.float32), y.astype(np.int64)


def _synthetic_cifar(seed: int, n: int = 3_000) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-shaped images (32x32x3, pixel values 0..255, 10 classes) whose class is the
    orientation and frequency of a faint stripe pattern, at a random phase, under a random
    colour cast and strong noise: colour says nothing, so a network must learn spatial
    features, and it takes a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    angle = (y % 5) * (np.pi / 5) + rng.normal(0, 0.08, n)
    frequency = np.where(y < 5, 0.45, 0.8) + rng.normal(0, 0.03, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    along = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    waves = np.sin(along * frequency[:, None, None] + phase[:, None, None])
    colours = rng.uniform(0.25, 0.75, (n, 1, 1, 3))
    images = colours * (1 + 0.35 * waves[..., None]) + rng.normal(0, 0.3, (n, 32, 32, 3))
    return np.clip(images * 160 + 20, 0, 255).astype(np.float32), y.astype(np.int64)


BUILTIN: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {
    "digits": _digits,
    "threshold": _threshold,
    "moons": _moons,
    "synthetic_cifar": _synthetic_cifar,
}


def _from_npz(path: Path) -> tuple[np.ndarray | None, ...]:
    try:
        arrays = read_npz(path, ["x_train", "y_train"], ["x_test", "y_test"])
    except FileNotFoundError:
        raise DataError(f"{path}: cannot read as .npz (no such file)") from None
    return arrays["x_train"], arrays["y_train"], arrays.get("x_test"), arrays.get("y_test")


def _same_length(name: str, x: np.ndarray, y: np.ndarray, split: str) -> None:
    if len(x) != len(y):
        raise DataError(
            f"data set '{name}': x_{split} has {len(x)} samples but y_{split} has {len(y)}"
        )


def load_dataset(name: str, *, seed: int = 0, validation_split: float = 0.2) -> Dataset:
    """A data set by built-in name, Keras-cache name or ``.npz`` path, split reproducibly."""
    x: np.ndarray | None
    y: np.ndarray | None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    if name in BUILTIN:
        x, y = BUILTIN[name](seed)
    elif name in KERAS_CACHED:
        x, y, x_test, y_test = from_keras_cache(name)
    elif name.endswith(".npz"):
        x, y, x_test, y_test = _from_npz(Path(name))
    else:
        known = ", ".join([*BUILTIN, *KERAS_CACHED])
        raise DataError(f"unknown data set '{name}': use one of {known} or a .npz file")
    assert x is not None and y is not None
    _same_length(name, x, y, "train")
    if x_test is not None and y_test is not None:
        _same_length(name, x_test, y_test, "test")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * validation_split)
    val, train = order[:n_val], order[n_val:]
    as_float = (lambda a: a) if x.dtype == np.float64 else (lambda a: a.astype(np.float32))
    return Dataset(
        name=name,
        x_train=as_float(x[train]),
        y_train=y[train],
        x_val=as_float(x[val]),
        y_val=y[val],
        x_test=None if x_test is None else as_float(x_test),
        y_test=y_test,
    )


def _labels_fit(spec: CanonicalSpec, y: np.ndarray, which: str) -> str | None:
    """Why labels ``y`` do not fit the spec's loss and output, or None if they do."""
    out = tuple(spec.output_shape)
    got = tuple(y.shape[1:])
    loss = spec.train.loss
    if y.dtype.kind not in NUMERIC:
        return f"{which} is not numeric (dtype {y.dtype})"
    if y.size and not np.isfinite(y).all():
        return f"{which} contains NaN or infinite values"
    if loss == "cross_entropy":
        classes = out[-1] if out else 1
        if got not in ((), (1,)):
            return (
                f"cross-entropy labels are class ids, one per sample; {which} has per-sample "
                f"shape {got} (one-hot labels? use their argmax)"
            )
        if y.size == 0:
            return None
        low, high = y.min(), y.max()
        fractional = y.dtype.kind == "f" and bool((y != np.round(y)).any())
        if fractional or low < 0 or high >= classes:
            values = "non-integer values" if fractional else f"values {low} .. {high}"
            return (
                f"cross-entropy labels must be integers in [0, {classes}) for the "
                f"{classes} outputs of spec '{spec.name}'; {which} has {values}"
            )
        return None
    if got != out and not (math.prod(out) == 1 and got == ()):
        return (
            f"{loss.replace('_', ' ')} targets must have the output's shape {out} per sample; "
            f"{which} has per-sample shape {got}"
        )
    if loss == "binary_cross_entropy" and y.size and (y.min() < 0 or y.max() > 1):
        return (
            f"binary cross-entropy targets must be in [0, 1]; {which} has values "
            f"{y.min()} .. {y.max()}"
        )
    return None


def _fits_dtype(where: str, split: str, x: np.ndarray, dtype: np.dtype) -> None:
    """Inputs must stay finite in the model's dtype: float64 values near 1e300 become inf in a
    float32 model, and the run would "succeed" with NaN losses."""
    if not x.size or x.dtype.kind not in "fiu":
        return
    largest = float(np.abs(x).max())
    limit = float(np.finfo(dtype).max)
    if largest > limit:
        raise DataError(
            f"{where}: the {split} inputs reach {largest:.3g}, beyond the largest {dtype} "
            f"({limit:.3g}) of the spec's input dtype; rescale the data or use dtype float64"
        )


def check_dataset(spec: CanonicalSpec, data: Dataset) -> None:
    """Raise :class:`DataError` unless ``data`` fits ``spec``: per-sample input shape, labels
    that suit its loss and output, matching lengths, at least two training samples and one
    validation sample (unless the spec's ``validation_split`` is 0)."""
    where = f"data set '{data.name}'"
    splits = [("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val)]
    if data.x_test is not None and data.y_test is not None:
        splits.append(("test", data.x_test, data.y_test))
    for split, x, y in splits:
        if len(x) != len(y):
            raise DataError(f"{where}: the {split} split has {len(x)} inputs but {len(y)} labels")
    total = len(data.x_train) + len(data.x_val)
    if len(data.x_train) < 2:
        raise DataError(
            f"{where} has {len(data.x_train)} training sample(s) of {total} after the "
            "validation split; at least 2 are needed"
        )
    expected = tuple(spec.input.shape)
    for split, x, _ in splits:
        if tuple(x.shape[1:]) != expected:
            source = "x_test" if split == "test" else "x_train"
            raise DataError(
                f"{where} does not fit spec '{spec.name}': its samples ({source}) have shape "
                f"{tuple(x.shape[1:])}, the spec's input shape is {expected}"
            )
        if x.dtype.kind not in NUMERIC:
            raise DataError(f"{where}: inputs are not numeric (dtype {x.dtype})")
        if x.size and not np.isfinite(x).all():
            raise DataError(f"{where}: the {split} inputs contain NaN or infinite values")
        _fits_dtype(where, split, x, np.dtype(spec.input.dtype))
    labels = np.concatenate([data.y_train, data.y_val])
    for which, given in [("y_train", labels), ("y_test", data.y_test)]:
        problem = None if given is None else _labels_fit(spec, given, which)
        if problem:
            raise DataError(f"{where} does not fit spec '{spec.name}': {problem}")
    if len(data.x_val) == 0 and spec.train.validation_split > 0:
        raise DataError(
            f"{where}: the validation split of its {total} samples is empty; use more samples "
            "(or a larger train.validation_split)"
        )


def channel_stats(x: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (floored at epsilon) over every axis but the last."""
    axes = tuple(range(x.ndim - 1))
    mean = x.astype(np.float64).mean(axis=axes)
    std = np.maximum(x.astype(np.float64).std(axis=axes), epsilon)
    return mean, std
