"""Each framework's own weight files, converted through the canonical format.

``.safetensors``: canonical (any backend; carries the spec hash). ``.pt`` / ``.pth``: a PyTorch
``state_dict``. ``.weights.h5``: Keras ``save_weights``. ``.msgpack``: the Flax NNX state
(``flax.serialization``). Reading a native file builds the model from the spec and loads the
file into it, so a file made for another architecture is refused with the framework's reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from normspec.backends import get_backend
from normspec.errors import WeightsError
from normspec.ir.graph import CanonicalSpec
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


def _torch_load(model: Any, path: Path) -> None:
    import torch

    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)


def _torch_save(model: Any, path: Path) -> None:
    import torch

    torch.save(model.state_dict(), path)


def _keras_load(model: Any, path: Path) -> None:
    model.load_weights(str(path))


def _keras_save(model: Any, path: Path) -> None:
    model.save_weights(str(path))


def _flax_weights(model: Any) -> Any:
    """The model's parameters and statistics: its state without the random-number streams of
    dropout, which are not weights (and whose key arrays msgpack cannot hold)."""
    from flax import nnx

    return nnx.state(model, nnx.Not(nnx.RngState))


def _flax_load(model: Any, path: Path) -> None:
    from flax import nnx, serialization

    state = _flax_weights(model)
    restored = serialization.from_bytes(nnx.to_pure_dict(state), path.read_bytes())
    nnx.replace_by_pure_dict(state, restored)
    nnx.update(model, state)


def _flax_save(model: Any, path: Path) -> None:
    from flax import nnx, serialization

    path.write_bytes(serialization.to_bytes(nnx.to_pure_dict(_flax_weights(model))))


NATIVE: dict[str, tuple[Callable[[Any, Path], None], Callable[[Any, Path], None]]] = {
    "torch": (_torch_load, _torch_save),
    "keras": (_keras_load, _keras_save),
    "flax": (_flax_load, _flax_save),
}


def read_any(path: Path, spec: CanonicalSpec) -> Weights:
    """Canonical weights from a canonical or native file made for ``spec``."""
    kind = format_of(path)
    if kind == "canonical":
        return load_weights(path, spec)
    if not path.exists():
        raise WeightsError(f"{path}: no such file")
    backend = get_backend(kind)
    model = backend.build(spec)
    try:
        NATIVE[kind][0](model, path)
    except Exception as exc:  # each framework raises its own error types for a mismatch
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path} does not fit spec '{spec.name}': {reason}") from None
    return backend.get_weights(model, spec)


def _mode_for(path: Path) -> int:
    """Permission bits for a file written at ``path``: the replaced file's, else 0o666 - umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
    partial = path.with_name(path.name + ".partial" + "".join(path.suffixes[-2:]))
    mode = _mode_for(path)
    try:
        NATIVE[kind][1](model, partial)
        os.chmod(partial, mode)
        partial.replace(path)
    except (OSError, RuntimeError) as exc:  # torch.save reports I/O failures as RuntimeError
        raise WeightsError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
