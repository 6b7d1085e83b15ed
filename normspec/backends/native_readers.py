"""Each framework's own weight file read as plain arrays, before any of it reaches a model.

A reader parses the file's bytes without the framework's loader (``torch.load`` with
``weights_only``, h5py, msgpack), refuses anything that is not a tree of arrays, and names each
array as the framework does (``fc.weight``, ``layers/dense/vars/0``, ``dense/kernel``). The
model's own layout, under the same names, says which arrays, shapes and dtypes are expected; the
checked arrays, not the file, are then loaded into the model. Only after every check passes does
the framework see them.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from normspec.errors import WeightsError
from normspec.weight_checks import METADATA_ENTRY, METADATA_KEYS, Stored, metadata_from, printable

Layout = dict[str, tuple[tuple[int, ...], np.dtype]]
"""Array name -> (shape, dtype) the model holds."""


@dataclass
class Contents:
    """A file's arrays by the framework's names, and the normspec metadata it carries."""

    entries: Mapping[str, Stored]
    metadata: dict[str, str] = field(default_factory=dict)


class Reader(Protocol):
    description: str
    """What a file of this format is, for messages: ``a PyTorch state_dict``."""

    def open(self, path: Path, data: bytes) -> contextlib.AbstractContextManager[Contents]: ...

    def layout(self, model: Any) -> Layout: ...

    def load(self, model: Any, arrays: dict[str, np.ndarray]) -> None: ...


def _not_array(path: Path, name: str, value: object) -> WeightsError:
    what = printable(type(value).__name__, 40)
    return WeightsError(f"{path}: {printable(name, 80)} holds a Python {what}, not an array")


# --- PyTorch: a state_dict -------------------------------------------------------------------


def _torch_array(path: Path, name: str, value: object) -> np.ndarray:
    import torch

    if not isinstance(value, torch.Tensor):
        raise _not_array(path, name, value)
    if value.layout != torch.strided or value.is_quantized:
        raise WeightsError(f"{path}: {printable(name, 80)} is not a dense tensor")
    try:
        return value.detach().cpu().numpy()
    except TypeError:  # bfloat16, float8 and the like have no numpy dtype
        raise WeightsError(
            f"{path}: {printable(name, 80)} is stored as {value.dtype}, which has no numpy dtype"
        ) from None


class TorchReader:
    description = "a PyTorch state_dict"

    @contextlib.contextmanager
    def open(self, path: Path, data: bytes) -> Iterator[Contents]:
        state = _torch_load(path, data)
        if not isinstance(state, Mapping):
            raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state_dict")
        entries = {}
        for name, value in state.items():
            if not isinstance(name, str):
                raise WeightsError(f"{path}: a state_dict key is a Python {type(name).__name__}")
            entries[name] = _torch_array(path, name, value)
        extra = getattr(state, "_metadata", None)
        ours = extra.get(METADATA_ENTRY) if isinstance(extra, Mapping) else None
        yield Contents(entries, metadata_from(path, ours))

    def layout(self, model: Any) -> Layout:
        return {k: (tuple(v.shape), _numpy_dtype(v)) for k, v in model.state_dict().items()}

    def load(self, model: Any, arrays: dict[str, np.ndarray]) -> None:
        import torch

        model.load_state_dict({k: torch.tensor(v) for k, v in arrays.items()}, strict=True)


def _torch_load(path: Path, data: bytes) -> Any:
    """``torch.load`` with ``weights_only``; what it refuses is named without its advice to
    turn the protection off."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # notes on pickle protocols
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).partition("WeightsUnpickler error:")[2].strip()
        detail = detail.split("\n")[0].split(". ")[0].strip() or "cannot unpickle"
        raise WeightsError(
            f"{path}: not a PyTorch state_dict: it holds what a weights-only load refuses "
            f"({printable(detail, 120)})"
        ) from None


def _numpy_dtype(tensor: Any) -> np.dtype:
    import torch

    return torch.empty(0, dtype=tensor.dtype).numpy().dtype


# --- Keras: save_weights' HDF5 file -----------------------------------------------------------


def _h5_datasets(path: Path, h5: Any) -> dict[str, Any]:
    """Every dataset of an HDF5 file by its path; links to elsewhere (soft, external) and data
    kept outside the file (virtual or external datasets) are refused, not followed."""
    import h5py

    links: list[tuple[str, Any]] = []
    h5.visititems_links(lambda name, link: links.append((name, link)))
    out = {}
    for name, link in links:
        if not isinstance(link, h5py.HardLink):
            raise WeightsError(f"{path}: {printable(name, 80)} is a link, which is not followed")
        item = h5[name]
        if isinstance(item, h5py.Dataset):
            if item.is_virtual or item.external:
                raise WeightsError(f"{path}: {printable(name, 80)} keeps its data elsewhere")
            out[name] = item
    return out


class KerasReader:
    description = "a Keras .weights.h5 file"

    @contextlib.contextmanager
    def open(self, path: Path, data: bytes) -> Iterator[Contents]:
        import h5py

        with h5py.File(io.BytesIO(data), "r") as h5:
            ours = {k: h5.attrs[k] for k in METADATA_KEYS if k in h5.attrs}
            yield Contents(_h5_datasets(path, h5), metadata_from(path, ours))

    def layout(self, model: Any) -> Layout:
        """What ``save_weights`` writes for ``model``: the names are Keras' own."""
        import h5py

        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "layout.weights.h5"
            model.save_weights(str(file))
            with h5py.File(file, "r") as h5:
                return {k: (d.shape, d.dtype) for k, d in _h5_datasets(file, h5).items()}

    def load(self, model: Any, arrays: dict[str, np.ndarray]) -> None:
        """The checked arrays written under their names to a private file Keras then reads."""
        import h5py

        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "checked.weights.h5"
            with h5py.File(file, "w") as h5:
                for name, value in arrays.items():
                    h5[name] = value
            model.load_weights(str(file))


# --- Flax: the NNX state as msgpack -----------------------------------------------------------


def flax_weights(model: Any) -> Any:
    """The model's parameters and statistics: its state without the random-number streams of
    dropout, which are not weights (and whose key arrays msgpack cannot hold)."""
    from flax import nnx

    return nnx.state(model, nnx.Not(nnx.RngState))


def _flatten(path: Path, tree: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping's leaves by their ``/``-joined keys; every leaf must be an array."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(path, value, name + "/"))
        elif isinstance(value, np.ndarray | np.generic):
            out[name] = value
        else:
            raise _not_array(path, name, value)
    return out


def _replaced(tree: Mapping[Any, Any], arrays: Mapping[str, Any], prefix: str = "") -> Any:
    """``tree`` with each leaf replaced by the array of its flattened name."""
    return {
        key: _replaced(value, arrays, f"{prefix}{key}/")
        if isinstance(value, Mapping)
        else arrays[f"{prefix}{key}"]
        for key, value in tree.items()
    }


class FlaxReader:
    description = "a Flax msgpack state"

    @contextlib.contextmanager
    def open(self, path: Path, data: bytes) -> Iterator[Contents]:
        from flax.serialization import msgpack_restore

        tree = msgpack_restore(data)
        if not isinstance(tree, Mapping):
            raise WeightsError(f"{path}: holds a {type(tree).__name__}, not a state mapping")
        tree = dict(tree)
        ours = tree.pop(METADATA_ENTRY, None)
        yield Contents(_flatten(path, tree), metadata_from(path, ours))

    def layout(self, model: Any) -> Layout:
        import jax
        from flax import nnx

        pure = jax.tree.map(np.asarray, nnx.to_pure_dict(flax_weights(model)))
        return {k: (v.shape, v.dtype) for k, v in _flatten(Path("<model>"), pure).items()}

    def load(self, model: Any, arrays: dict[str, np.ndarray]) -> None:
        import jax.numpy as jnp
        from flax import nnx

        state = flax_weights(model)
        values = {k: jnp.asarray(v) for k, v in arrays.items()}
        nnx.replace_by_pure_dict(state, _replaced(nnx.to_pure_dict(state), values))
        nnx.update(model, state)


READERS: dict[str, Reader] = {"torch": TorchReader(), "keras": KerasReader(), "flax": FlaxReader()}
