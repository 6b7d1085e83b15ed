"""normspec: one YAML spec, the same network in PyTorch, Keras and Flax.

Core API (no deep-learning framework is imported by these)::

    spec = normspec.load("specs/cifar_cnn.yaml")     # canonical spec, or SpecError
    source = normspec.emit(spec, "torch")           # standalone model source text

Backend API (imports the framework on first use)::

    model = normspec.build(spec, "keras")           # executes the emitted source
    weights = normspec.init_weights(spec, seed=0)   # canonical numpy weights
    weights = normspec.load_weights("w.pt", spec)   # from any weights file made for spec
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from normspec.errors import BackendError, NormspecError, SpecError, WeightsError

if TYPE_CHECKING:
    import numpy as np

    from normspec.ir.graph import CanonicalSpec

__version__ = "0.1.0"
__all__ = [
    "BackendError",
    "NormspecError",
    "SpecError",
    "WeightsError",
    "__version__",
    "build",
    "emit",
    "init_weights",
    "load",
    "load_weights",
]


def load(spec: str | Path | CanonicalSpec) -> CanonicalSpec:
    """Canonical spec from a YAML path, YAML text, or an already canonical spec.

    Raises :class:`SpecError` whose ``problems`` carry file, line, column and field path.
    """
    from normspec.ir.graph import CanonicalSpec
    from normspec.loader import load_yaml, read_source
    from normspec.spec.canonicalize import canonicalize

    if isinstance(spec, CanonicalSpec):
        return spec
    if not isinstance(spec, str | Path):
        hint = "; write it out with yaml.safe_dump first" if isinstance(spec, dict) else ""
        raise TypeError(
            "a spec is a YAML file path (str or pathlib.Path), YAML text or a CanonicalSpec, "
            f"not {type(spec).__name__}{hint}"
        )
    text, source = read_source(spec)
    return canonicalize(load_yaml(text, source))


def emit(spec: str | Path | CanonicalSpec, backend: str) -> str:
    """Source text of a standalone model module for ``backend`` (torch, keras or flax)."""
    from normspec.backends import get_backend

    return get_backend(backend).emit(load(spec))


def build(spec: str | Path | CanonicalSpec, backend: str) -> Any:
    """A live model: the emitted source executed and its model constructed."""
    from normspec.backends import get_backend

    return get_backend(backend).build(load(spec))


def init_weights(spec: str | Path | CanonicalSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic canonical initial weights drawn with numpy from the spec's initializers."""
    from normspec.ir.constraints import MAX_SEED
    from normspec.weights import init_weights as _init

    if type(seed) is not int:
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    return _init(load(spec), seed)


def load_weights(
    path: str | Path, spec: str | Path | CanonicalSpec, *, allow_cast: bool = False
) -> dict[str, np.ndarray]:
    """Canonical weights from a ``.safetensors``, ``.pt``, ``.weights.h5`` or ``.msgpack`` file
    made for ``spec``. Raises :class:`WeightsError` for a file that cannot be parsed, was made
    for another spec, does not fit the model, or holds NaN, infinities or another dtype than the
    spec's (cast instead if ``allow_cast``)."""
    from normspec.backends.native import read_any

    if not isinstance(path, str | Path):
        raise TypeError(f"path must be a str or pathlib.Path, not {type(path).__name__}")
    return read_any(Path(path), load(spec), allow_cast=allow_cast)
