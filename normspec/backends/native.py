"""Each framework's own weight files, converted through the canonical format.

``.safetensors``: canonical (any backend). ``.pt`` / ``.pth``: a PyTorch ``state_dict``.
``.weights.h5``: Keras ``save_weights``. ``.msgpack``: the Flax NNX state
(``flax.serialization``). Every file written carries the spec's metadata
(:func:`normspec.weight_checks.spec_metadata`): in the safetensors header, in the ``state_dict``'s
``_metadata``, as attributes of the HDF5 file, as an entry of the msgpack state. Reading a
native file parses it as plain arrays (:mod:`normspec.backends.native_readers`), checks them
against the model built from the spec (:mod:`normspec.weight_checks`), then loads them into it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from normspec.backends import get_backend
from normspec.backends.native_readers import READERS, flax_weights
from normspec.errors import WeightsError
from normspec.files import replacing
from normspec.ir.graph import CanonicalSpec
from normspec.weight_checks import (
    METADATA_ENTRY,
    check_fit,
    check_origin,
    checked_arrays,
    reading,
    spec_metadata,
)
from normspec.weights import Weights, load_weights, save_weights

FORMATS = {".pt": "torch", ".pth": "torch", ".weights.h5": "keras", ".msgpack": "flax"}


def format_of(path: Path) -> str:
    """``canonical`` or the backend whose native format ``path`` is, by its suffix."""
    name = path.name
    if name.endswith(".safetensors"):
        return "canonical"
    for suffix, backend in FORMATS.items():
        if name.endswith(suffix):
            return backend
    known = ", ".join([".safetensors", *FORMATS])
    raise WeightsError(f"{path}: unknown weight file type; use one of {known}")


def _torch_save(model: Any, path: Path, metadata: dict[str, str]) -> None:
    import torch

    state = model.state_dict()
    state._metadata[METADATA_ENTRY] = metadata
    torch.save(state, path)


def _keras_save(model: Any, path: Path, metadata: dict[str, str]) -> None:
    import h5py

    model.save_weights(str(path))
    with h5py.File(path, "r+") as h5:
        h5.attrs.update(metadata)


def _flax_save(model: Any, path: Path, metadata: dict[str, str]) -> None:
    from flax import nnx, serialization

    state = {**nnx.to_pure_dict(flax_weights(model)), METADATA_ENTRY: metadata}
    with open(path, "wb") as f:
        f.write(serialization.msgpack_serialize(state))


SAVERS: dict[str, Callable[[Any, Path, dict[str, str]], None]] = {
    "torch": _torch_save,
    "keras": _keras_save,
    "flax": _flax_save,
}


def read_any(path: Path, spec: CanonicalSpec, *, allow_cast: bool = False) -> Weights:
    """Canonical weights from a canonical or native file made for ``spec``.

    Anything wrong with the file raises :class:`WeightsError`: it cannot be parsed, it was made
    for another spec, its arrays or shapes are not the model's (listed), or its values are not
    finite numbers of the model's dtype (other dtypes are cast if ``allow_cast``)."""
    path = Path(path)
    kind = format_of(path)
    if kind == "canonical":
        return load_weights(path, spec, allow_cast=allow_cast)
    with reading(path, f"cannot read {path}"):
        data = path.read_bytes()
    reader = READERS[kind]
    backend = get_backend(kind)
    model = backend.build(spec)
    layout = reader.layout(model)
    misfit = f"{path} does not fit spec '{spec.name}'"
    with reading(path, f"{path}: not {reader.description}"), reader.open(path, data) as stored:
        check_origin(path, spec, stored.metadata, required=False)
        check_fit(misfit, {k: shape for k, (shape, _) in layout.items()}, stored.entries)
        dtypes = {k: dtype for k, (_, dtype) in layout.items()}
        arrays = checked_arrays(path, stored.entries, dtypes, allow_cast=allow_cast)
    with reading(path, misfit):  # the framework may still object to what the checks passed
        reader.load(model, arrays)
        return backend.get_weights(model, spec)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def write_any(path: Path, spec: CanonicalSpec, weights: Weights) -> None:
    """Write ``weights`` as a canonical or native file, chosen by ``path``'s suffix.

    The file appears complete or not at all; one that cannot be written raises
    :class:`WeightsError` (``cannot write PATH: reason``)."""
    kind = format_of(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot write {path}: {_reason(exc)}") from None
    if kind == "canonical":
        save_weights(path, spec, weights)
        return
    backend = get_backend(kind)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    try:
        with replacing(path) as tmp:
            SAVERS[kind](model, tmp, spec_metadata(spec))
    except (OSError, RuntimeError) as exc:  # torch.save reports I/O failures as RuntimeError
        raise WeightsError(f"cannot write {path}: {_reason(exc)}") from None
