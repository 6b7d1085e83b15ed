"""The emitted Flax model trains after loading weights: a normspec ``.msgpack`` restored with
``flax.serialization`` and ``nnx.update`` (read-only numpy arrays), or normspec's own loader,
then a train-mode forward pass and an optax step, eager and under ``nnx.jit``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.parity import parity_weights, with_dtype
from parity_cases import make_spec

pytest.importorskip("flax")
pytestmark = pytest.mark.flax

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from flax import nnx, serialization  # noqa: E402

from normspec.backends.flax import BACKEND  # noqa: E402
from normspec.backends.flax.runtime import model_class  # noqa: E402
from normspec.backends.native import write_any  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BN_SPECS = [
    path.stem
    for path in sorted((ROOT / "specs").glob("*.yaml"))
    if any(isinstance(site.op, ir.BatchNorm) for site in normspec.load(path).nodes)
]
BIASED = "- conv2d: {filters: 3, norm: {kind: batch, running_var: biased}}\n- flatten\n- dense: 2"


def spec_named(name: str) -> CanonicalSpec:
    """A spec of specs/ or the made-up ``biased``; ``NAME_float64`` is NAME in float64."""
    base, float64, _ = name.partition("_float64")
    spec = (
        make_spec("[7, 7, 3]", BIASED)
        if base == "biased"
        else normspec.load(ROOT / "specs" / f"{base}.yaml")
    )
    return with_dtype(spec, "float64") if float64 else spec


def restore_msgpack(model: nnx.Module, path: Path) -> None:
    """Load a normspec ``.msgpack`` as the README shows: restore, drop normspec's metadata
    entry, put the arrays into the model's state (input statistics included: nothing else)."""
    state = serialization.msgpack_restore(path.read_bytes())
    state.pop("__normspec__")
    graph_state = nnx.state(model, nnx.Not(nnx.RngState))
    nnx.replace_by_pure_dict(graph_state, state)
    nnx.update(model, graph_state)


def statistics(model: nnx.Module) -> list[np.ndarray]:
    return [np.array(v) for v in jax.tree.leaves(nnx.state(model, nnx.BatchStat))]


def loss_fn(model: nnx.Module, x: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(model(x)))


@nnx.jit
def jitted_step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array) -> None:
    optimizer.update(model, nnx.grad(loss_fn)(model, x))


def eager_step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array) -> None:
    optimizer.update(model, nnx.grad(loss_fn)(model, x))


def check_trains(model: nnx.Module, spec: CanonicalSpec) -> None:
    """A train-mode forward pass, then an eager and a jitted optax step: each moves the
    running statistics, and the steps move the parameters."""
    x = jnp.asarray(reference.init_batch(spec, 4, seed=3))
    before = statistics(model)
    model(x)
    after_forward = statistics(model)
    params = [np.array(v) for v in jax.tree.leaves(nnx.state(model, nnx.Param))]
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    for step in (eager_step, jitted_step):
        step(model, optimizer, x)
    after_steps = statistics(model)
    for old, mid, new in zip(before, after_forward, after_steps, strict=True):
        assert not np.allclose(old, mid) and not np.allclose(mid, new)
    moved = [np.array(v) for v in jax.tree.leaves(nnx.state(model, nnx.Param))]
    assert any(not np.allclose(a, b) for a, b in zip(params, moved, strict=True))
    assert all(np.isfinite(v).all() for v in after_steps)


def saved(spec: CanonicalSpec, tmp_path: Path) -> Path:
    path = tmp_path / "w.msgpack"
    write_any(path, spec, parity_weights(spec, seed=0))
    return path


TABLE = ["threshold_batch_norm", "cnn_bn_after_relu", "resnet18", "biased", "biased_float64"]
"""Dense, conv and residual batch norms, the unbiased and the biased running variance, in
float32 and float64."""


@pytest.mark.parametrize("name", TABLE)
def test_model_trains_after_restoring_a_normspec_msgpack(name: str, tmp_path: Path) -> None:
    spec = spec_named(name)
    path = saved(spec, tmp_path)
    model = model_class(spec)(rngs=nnx.Rngs(0))
    restore_msgpack(model, path)
    assert any(isinstance(v, np.ndarray) for v in jax.tree.leaves(nnx.state(model)))
    check_trains(model, spec)


@pytest.mark.parametrize("name", ["threshold_batch_norm", "biased", "biased_float64"])
def test_model_trains_after_normspecs_own_loader(name: str, tmp_path: Path) -> None:
    spec = spec_named(name)
    model = BACKEND.build(spec)
    BACKEND.set_weights(model, spec, normspec.load_weights(saved(spec, tmp_path), spec))
    check_trains(model, spec)


@pytest.mark.slow
@pytest.mark.parametrize("name", BN_SPECS)
def test_every_batch_norm_spec_trains_after_restoring(name: str, tmp_path: Path) -> None:
    spec = spec_named(name)
    model = model_class(spec)(rngs=nnx.Rngs(0))
    restore_msgpack(model, saved(spec, tmp_path))
    check_trains(model, spec)
