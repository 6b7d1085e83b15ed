"""Canonical weights: numpy arrays keyed ``<op name>.<role>``, stored as safetensors.

Layouts (see :func:`normspec.ir.graph.op_weights`): dense kernel ``(in, out)``, conv kernel
``(*kernel, in / groups, out)``, per-channel vectors ``(C,)``; the first dense after a flatten sees
features in channels-last order. The file's metadata carries the spec hash, so weights are never
loaded into a different spec by accident; what is checked on reading is in
:mod:`normspec.weight_checks`.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from normspec.errors import WeightsError
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec, WeightSpec, weight_specs
from normspec.weight_checks import (
    check_fit,
    check_origin,
    checked_arrays,
    metadata_from,
    reading,
    spec_metadata,
)

Weights = dict[str, np.ndarray]


def _draw(w: WeightSpec, rng: np.random.Generator) -> np.ndarray:
    if w.values is not None:
        return np.asarray(w.values, dtype=np.float64)
    init = w.init
    if isinstance(init, ir.Constant):
        return np.full(w.shape, init.value, dtype=np.float64)
    if isinstance(init, ir.Uniform):
        return rng.uniform(init.low, init.high, w.shape)
    if isinstance(init, ir.Normal):
        return rng.normal(init.mean, init.std, w.shape)
    out = rng.normal(init.mean, init.std, w.shape)
    bad = (out < init.low) | (out > init.high)
    while bad.any():
        out[bad] = rng.normal(init.mean, init.std, int(bad.sum()))
        bad = (out < init.low) | (out > init.high)
    return out


def init_weights(spec: CanonicalSpec, seed: int = 0) -> Weights:
    """Initial weights from the spec's initializers; each tensor seeded by ``(seed, key)``."""
    dtype = np.dtype(spec.input.dtype)
    out: Weights = {}
    for w in weight_specs(spec):
        rng = np.random.default_rng([seed, zlib.crc32(w.key.encode())])
        out[w.key] = _draw(w, rng).astype(dtype)
    return out


def check_weights(spec: CanonicalSpec, weights: Weights) -> None:
    """Raise :class:`WeightsError` unless ``weights`` has exactly the spec's keys and shapes."""
    check_fit(f"weights do not fit spec '{spec.name}'", _shapes(spec), weights)


def _shapes(spec: CanonicalSpec) -> dict[str, tuple[int, ...]]:
    return {w.key: w.shape for w in weight_specs(spec)}


def save_weights(path: str | Path, spec: CanonicalSpec, weights: Weights) -> None:
    """Write canonical weights as safetensors with the spec hash in the metadata."""
    import contextlib
    import os
    import stat

    from safetensors.numpy import save_file

    check_weights(spec, weights)
    metadata = spec_metadata(spec)
    arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:  # safetensors creates files with mode 0o600: give the normal one
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        save_file(arrays, str(tmp), metadata=metadata)
        os.chmod(tmp, mode)
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, Exception):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WeightsError(f"cannot write {path}: {reason}") from None


def read_weights(path: str | Path) -> tuple[Weights, dict[str, str]]:
    """Arrays and metadata of a canonical weights file."""
    from safetensors import safe_open

    failure = f"{path}: not a safetensors weights file"
    with reading(Path(path), failure), safe_open(str(path), framework="numpy") as f:
        metadata = dict(f.metadata() or {})
        arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    return arrays, metadata


def load_weights(path: str | Path, spec: CanonicalSpec, *, allow_cast: bool = False) -> Weights:
    """Read a weights file made for ``spec``; refuse one made for another spec, and values
    that are not finite numbers in the spec's dtype (other dtypes are cast if ``allow_cast``)."""
    path = Path(path)
    arrays, metadata = read_weights(path)
    check_origin(path, spec, metadata_from(path, metadata), required=True)
    expected = _shapes(spec)
    check_fit(f"{path} does not fit spec '{spec.name}'", expected, arrays)
    dtype = np.dtype(spec.input.dtype)
    return checked_arrays(path, arrays, dict.fromkeys(expected, dtype), allow_cast=allow_cast)
