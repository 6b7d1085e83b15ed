"""normspec: one YAML spec, the same network in PyTorch, Keras and Flax.

Core API (no deep-learning framework is imported by these)::

    spec = normspec.load("specs/cifar_cnn.yaml")     # canonical spec, or SpecError
    source = normspec.emit(spec, "torch")           # standalone model source text

Backend API (imports the framework on first use)::

    model = normspec.build(spec, "keras")           # executes the emitted source
    weights = normspec.init_weights(spec, seed=0)   # canonical numpy weights
    weights = normspec.load_weights("w.pt", spec)   # from any weights file made for spec
    outputs = normspec.layer_outputs(model, spec, x)  # every layer's output, by name

Memory (core; rules in :mod:`normspec.resources`)::

    normspec.estimate_memory(spec, batch_size=64)   # parameters, optimizer state, activations
    normspec.check_memory(spec, "train", limit="8G")  # ResourceError when above the limit

``build`` and ``init_weights`` check their own need first (default limit: the machine's
physical memory; ``memory_limit=`` sets another).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from normspec.errors import (
    BackendError,
    NormspecError,
    ResourceError,
    SpecError,
    WeightsError,
)

if TYPE_CHECKING:
    import numpy as np

    from normspec.ir.graph import SGD, Adam, CanonicalSpec
    from normspec.resources import MemoryEstimate, Need, Task

__version__ = "0.1.0"
__all__ = [
    "BackendError",
    "NormspecError",
    "ResourceError",
    "SpecError",
    "WeightsError",
    "__version__",
    "build",
    "check_memory",
    "emit",
    "estimate_memory",
    "init_weights",
    "layer_outputs",
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


def build(
    spec: str | Path | CanonicalSpec, backend: str, *, memory_limit: int | str | None = None
) -> Any:
    """A live model: the emitted source executed and its model constructed. Raises
    :class:`ResourceError` first when its parameters would not fit ``memory_limit``."""
    from normspec.backends import get_backend

    canon = load(spec)
    check_memory(canon, "model", label=f"a {backend} model", limit=memory_limit)
    return get_backend(backend).build(canon)


def init_weights(
    spec: str | Path | CanonicalSpec, seed: int = 0, *, memory_limit: int | str | None = None
) -> dict[str, np.ndarray]:
    """Deterministic canonical initial weights drawn with numpy from the spec's initializers.
    Raises :class:`ResourceError` first when they would not fit ``memory_limit``."""
    from normspec.ir.constraints import MAX_SEED
    from normspec.weights import init_weights as _init

    if type(seed) is not int:
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    canon = load(spec)
    check_memory(canon, "weights", label="init_weights", limit=memory_limit)
    return _init(canon, seed)


def estimate_memory(
    spec: str | Path | CanonicalSpec,
    batch_size: int | None = None,
    optimizer: SGD | Adam | None = None,
) -> MemoryEstimate:
    """Parameters, gradients, optimizer state and activations of ``spec`` in bytes (defaults:
    the spec's batch size and optimizer); :meth:`~normspec.resources.MemoryEstimate.need` sums
    them for one kind of work."""
    from normspec.resources import estimate_memory as _estimate

    return _estimate(load(spec), batch_size, optimizer)


def check_memory(
    spec: str | Path | CanonicalSpec,
    task: Task = "train",
    *,
    batch_size: int | None = None,
    optimizer: SGD | Adam | None = None,
    runners: int = 1,
    label: str | None = None,
    limit: int | str | None = None,
) -> Need:
    """What ``task`` (``weights``, ``model``, ``train`` or ``compare`` with ``runners`` models)
    needs; raises :class:`ResourceError` naming the estimate and the limit when it is above
    ``limit`` (bytes or e.g. ``"8G"``; default: this machine's physical memory)."""
    from normspec.resources import check_need

    need = estimate_memory(spec, batch_size, optimizer).need(task, label, runners)
    return check_need(need, limit)


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


_FRAMEWORK_OF_PACKAGE = {"torch": "torch", "keras": "keras", "flax": "flax"}


def layer_outputs(
    model: Any, spec: str | Path | CanonicalSpec, x: np.ndarray, *, train: bool = False
) -> dict[str, np.ndarray]:
    """Every op's output for the batch ``x`` (numpy, channels-last, as the spec's input), keyed
    by the op's name, plus ``"output"``: for a model of ``spec`` in any framework, built by
    :func:`build` or from the emitted file. The ops of residual blocks are included, and each
    residual's own output (its add); the order is the spec's graph order (children before the
    residual they belong to: :attr:`CanonicalSpec.nodes`).

    Each framework's own mechanism records them: PyTorch forward hooks (a residual's add, which
    is no module, is the sum of the two recorded values it reads), a Keras functional model over
    the same layers, Flax's ``nnx.capture`` of what the model sows. Dropout is off;
    ``train=True`` normalizes with batch statistics and updates the running ones, as a
    training step does.
    """
    from normspec.backends import get_backend

    for cls in type(model).__mro__:
        package = cls.__module__.split(".")[0]
        if package in _FRAMEWORK_OF_PACKAGE:
            backend = get_backend(_FRAMEWORK_OF_PACKAGE[package])
            return backend.forward(model, load(spec), x, train=train)
    raise TypeError(
        f"{type(model).__name__} is not a PyTorch, Keras or Flax model: pass a model built "
        "from the spec (normspec.build, or the class or builder of the emitted file)"
    )
