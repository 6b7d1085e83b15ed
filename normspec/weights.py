"""Canonical weights: numpy arrays keyed ``<op name>.<role>``, stored as safetensors.

Layouts (see :func:`normspec.ir.graph.op_weights`): dense kernel ``(in, out)``, conv kernel
``(*kernel, in / groups, out)``, per-channel vectors ``(C,)``; the first dense after a flatten sees
features in channels-last order. The file's metadata carries the spec hash, so weights are never
loaded into a different spec by accident; what is checked on reading is in
:mod:`normspec.weight_checks`.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from normspec.errors import WeightsError
from normspec.files import write_bytes
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
    """Write canonical weights as safetensors with the spec hash in the metadata; identical
    weights give identical bytes."""
    check_weights(spec, weights)
    path = Path(path)
    try:
        write_bytes(path, safetensors_bytes(weights, spec_metadata(spec)))
    except OSError as exc:
        raise WeightsError(f"cannot write {path}: {exc.strerror or exc}") from None


SAFETENSORS_DTYPES = {"float16": "F16", "float32": "F32", "float64": "F64", "int64": "I64"}


def safetensors_bytes(arrays: Weights, metadata: dict[str, str]) -> bytes:
    """The safetensors encoding of ``arrays``, written here rather than by the ``safetensors``
    package so that it is deterministic: metadata and tensors in sorted order (the package
    writes its metadata in hash order, a different file on every run)."""
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for key in sorted(arrays):
        array = np.asarray(arrays[key])
        if array.dtype.name not in SAFETENSORS_DTYPES:
            raise WeightsError(f"cannot store {key}: dtype {array.dtype} is not a weight dtype")
        blob = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[key] = {
            "dtype": SAFETENSORS_DTYPES[array.dtype.name],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the format advises
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


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
