"""Cross-backend parity: identical canonical weights and input, every backend, both modes.

Each backend's outputs are compared with the numpy reference (:mod:`normspec.reference`) and
with each other. Errors are measured relative to the output scale: ``max|a - b| / max(1, max|b|)``.
When a comparison fails, the first top-level op whose own output diverges is named.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from normspec import reference
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec, InputSpec
from normspec.weights import Weights, init_weights

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
REFERENCE = "numpy"


@dataclass(frozen=True)
class Comparison:
    left: str
    right: str
    mode: str
    max_abs: float
    max_rel: float
    tolerance: float
    first_divergence: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.tolerance


@dataclass
class ParityReport:
    spec: CanonicalSpec
    dtype: str
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    def table(self) -> str:
        rows = [("pair", "mode", "max abs", "max rel", "tol", "status")]
        for c in self.comparisons:
            status = "ok" if c.ok else f"DIVERGES at {c.first_divergence or 'output'}"
            rows.append(
                (
                    f"{c.left} vs {c.right}",
                    c.mode,
                    f"{c.max_abs:.2e}",
                    f"{c.max_rel:.2e}",
                    f"{c.tolerance:.0e}",
                    status,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        head = f"parity of '{self.spec.name}' ({self.dtype}, {self.spec.hash[:19]})"
        return "\n".join([head, *(line.rstrip() for line in lines)]) + "\n"


def with_dtype(spec: CanonicalSpec, dtype: str) -> CanonicalSpec:
    """The same spec computed in ``dtype``."""
    if spec.input.dtype == dtype:
        return spec
    new_input = InputSpec(shape=spec.input.shape, dtype=dtype)
    return spec.model_copy(update={"input": new_input})


def parity_weights(spec: CanonicalSpec, seed: int) -> Weights:
    """Initial weights with non-trivial state: running statistics, fitted input statistics and
    every normalization's scale and shift are randomized, so eval mode exercises them and a
    wrong layout of a per-channel vector shows (fresh ones are ones, zeros, or almost an
    identity)."""
    weights = init_weights(spec, seed)
    rng = np.random.default_rng(seed + 1)
    dtype = np.dtype(spec.input.dtype)
    for node in spec.nodes:
        op = node.op
        if isinstance(op, ir.NORM_OPS):
            c = op.shape[-1]
            for role, base in (("scale", 1.0), ("shift", 0.0)):
                if f"{op.name}.{role}" in weights:
                    weights[f"{op.name}.{role}"] = (base + rng.normal(0, 0.2, c)).astype(dtype)
        if isinstance(op, ir.BatchNorm):
            c = op.shape[-1]
            weights[f"{op.name}.mean"] = rng.normal(0.0, 0.5, c).astype(dtype)
            weights[f"{op.name}.var"] = rng.uniform(0.5, 2.0, c).astype(dtype)
        elif isinstance(op, ir.Standardize) and op.adapt:
            c = op.shape[-1]
            weights[f"{op.name}.mean"] = rng.normal(0.0, 1.0, c).astype(dtype)
            weights[f"{op.name}.std"] = rng.uniform(0.5, 2.0, c).astype(dtype)
    return weights


def error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(max |a - b|, that relative to the output scale max(1, max |b|))``; infinite when the
    shapes differ."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a64.shape != b64.shape:
        return float("inf"), float("inf")
    diff = float(np.max(np.abs(a64 - b64))) if a64.size else 0.0
    return diff, diff / max(1.0, float(np.max(np.abs(b64))) if b64.size else 1.0)


def _first_divergence(
    spec: CanonicalSpec, a: dict[str, np.ndarray], b: dict[str, np.ndarray], tol: float
) -> str | None:
    """Where the outputs first differ: the path of the first node (in dependency order) whose
    outputs differ beyond ``tol``, e.g. ``block_1 > body > block_1_conv2``, or ``block_1 (its
    add)`` when only the join differs."""
    for node in spec.nodes:
        name = node.name
        if name in a and name in b and error(a[name], b[name])[1] > tol:
            return f"{node.path} (its add)" if isinstance(node.op, ir.Add) else node.path
    return None


def _state(spec: CanonicalSpec, weights: Weights) -> np.ndarray:
    """The running statistics of every batch norm, concatenated (what a train step updates)."""
    keys = [f"{n.op.name}.{r}" for n in spec.nodes if isinstance(n.op, ir.BatchNorm)
            for r in ("mean", "var")]  # fmt: skip
    return np.concatenate([weights[k].ravel() for k in keys]) if keys else np.zeros(0)


Runner = Callable[[bool], tuple[dict[str, np.ndarray], Weights]]


def _backend_runner(name: str, spec: CanonicalSpec, weights: Weights, x: np.ndarray) -> Runner:
    from normspec.backends import get_backend

    backend = get_backend(name)

    def run(train: bool) -> tuple[dict[str, np.ndarray], Weights]:
        model = backend.build(spec)
        backend.set_weights(model, spec, weights)
        outputs = backend.forward(model, spec, x, train=train)
        return outputs, backend.get_weights(model, spec)

    return run


def compare(
    spec: CanonicalSpec,
    backends: Sequence[str],
    *,
    modes: Sequence[str] = ("eval", "train"),
    dtype: str = "float32",
    batch: int = 4,
    seed: int = 0,
    atol: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> ParityReport:
    """Run every backend (and the numpy reference) on the same weights and input; compare."""
    spec = with_dtype(spec, dtype)
    tol = atol if atol is not None else TOLERANCE[dtype]
    weights = parity_weights(spec, seed)
    x = reference.init_batch(spec, batch, seed)
    runners: dict[str, Runner] = {
        REFERENCE: lambda train: reference.forward(spec, weights, x, train=train),
    }
    for name in backends:
        runners[name] = _backend_runner(name, spec, weights, x)
    report = ParityReport(spec, dtype)
    for mode in modes:
        results = {}
        for name, run in runners.items():
            if progress:
                progress(f"{name}: {mode} forward")
            results[name] = run(mode == "train")
        for left, right in _pairs(list(runners)):
            (out_a, w_a), (out_b, w_b) = results[left], results[right]
            max_abs, max_rel = error(out_a["output"], out_b["output"])
            if mode == "train":
                state_abs, state_rel = error(_state(spec, w_a), _state(spec, w_b))
                max_abs, max_rel = max(max_abs, state_abs), max(max_rel, state_rel)
            where = _first_divergence(spec, out_a, out_b, tol) if max_rel > tol else None
            report.comparisons.append(Comparison(left, right, mode, max_abs, max_rel, tol, where))
    return report


def _runner(name: str, spec: CanonicalSpec, weights: Weights, x: np.ndarray) -> Runner:
    if name == REFERENCE:
        return lambda train: reference.forward(spec, weights, x, train=train)
    return _backend_runner(name, spec, weights, x)


def _pairs(names: list[str]) -> list[tuple[str, str]]:
    """Each backend against the reference, then each pair of backends."""
    backends = [n for n in names if n != REFERENCE]
    return [(b, REFERENCE) for b in backends] + list(itertools.combinations(backends, 2))
