"""The generated model in the user's own training loop, with each framework's stock tools:
``normalize: standardize`` is fitted with ``adapt(x)``, and a model whose statistics were
never set refuses to run instead of training at chance."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT
from normspec.cli import main
from test_backends_shared import available

SPEC = ROOT / "specs" / "threshold_input_norm.yaml"
EPOCHS, BATCH, LR = 3, 20, 1e-2


def threshold() -> tuple[np.ndarray, np.ndarray]:
    """The forum's data: x = 0 ... 24,999 unscaled, y = x >= 12,500, shuffled."""
    x = np.arange(25_000, dtype=np.float32)[:, None]
    y = (x[:, 0] >= 12_500).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], y[order]


def built(backend: str, tmp_path: Path) -> ModuleType:
    """``normspec build SPEC --backend B -o model.py``, then ``import model``."""
    path = tmp_path / f"threshold_{backend}.py"
    result = CliRunner().invoke(main, ["build", str(SPEC), "--backend", backend, "-o", str(path)])
    assert result.exit_code == 0, result.output
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def train_torch(module: ModuleType, adapt: bool) -> float:
    import torch

    x, y = (torch.from_numpy(a) for a in threshold())
    torch.manual_seed(0)
    model = module.ThresholdInputNorm()
    if adapt:
        model.input_norm.adapt(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()  # on logits(), as the class docstring says
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(x)).split(BATCH):
            loss = loss_fn(model.logits(x[idx])[:, 0], y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return float(((model(x)[:, 0] > 0.5).float() == y).float().mean())


def train_keras(module: ModuleType, adapt: bool) -> float:
    import keras

    x, y = threshold()
    keras.utils.set_random_seed(0)
    model = module.build_threshold_input_norm()
    if adapt:
        model.get_layer("input_norm").adapt(x)
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    return float(model.evaluate(x, y, verbose=0)[1])


def train_flax(module: ModuleType, adapt: bool) -> float:
    import jax.numpy as jnp
    import optax
    from flax import nnx

    x, y = threshold()
    model = module.ThresholdInputNorm(rngs=nnx.Rngs(0))
    if adapt:
        model.input_norm.adapt(x)
    optimizer = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

    def loss_fn(model: nnx.Module, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
        p = jnp.clip(model(x)[:, 0], 1e-7, 1 - 1e-7)
        return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, x: jnp.ndarray, y: jnp.ndarray):
        optimizer.update(model, nnx.grad(loss_fn)(model, x, y))

    rng = np.random.default_rng(0)
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            step(model, optimizer, jnp.asarray(x[idx]), jnp.asarray(y[idx]))
    return float(((np.asarray(model(jnp.asarray(x)))[:, 0] > 0.5) == y).mean())


LOOPS = {"torch": train_torch, "keras": train_keras, "flax": train_flax}


@pytest.fixture(autouse=True)
def _keras_backend() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.mark.slow
@pytest.mark.parametrize("backend", list(LOOPS))
def test_adapted_model_learns_the_threshold_in_the_users_loop(backend: str, tmp_path: Path):
    if not available(backend):
        pytest.skip(f"needs {backend}")
    assert LOOPS[backend](built(backend, tmp_path), adapt=True) >= 0.99


@pytest.mark.parametrize("backend", list(LOOPS))
def test_a_model_whose_statistics_were_never_set_refuses_to_run(backend: str, tmp_path: Path):
    if not available(backend):
        pytest.skip(f"needs {backend}")
    with pytest.raises(Exception, match=r"mean and std are not set; call .*adapt"):
        LOOPS[backend](built(backend, tmp_path), adapt=False)


def _torch_reload(module: ModuleType, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    import torch

    x = torch.from_numpy(threshold()[0][:64])
    fitted = module.ThresholdInputNorm()
    fitted.input_norm.adapt(x)
    torch.save(fitted.state_dict(), tmp_path / "w.pt")
    loaded = module.ThresholdInputNorm()
    loaded.load_state_dict(torch.load(tmp_path / "w.pt"))
    with torch.no_grad():
        return fitted(x).numpy(), loaded(x).numpy()


def _keras_reload(module: ModuleType, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    x = threshold()[0][:64]
    fitted = module.build_threshold_input_norm()
    fitted.get_layer("input_norm").adapt(x)
    fitted.save_weights(tmp_path / "w.weights.h5")
    loaded = module.build_threshold_input_norm()
    loaded.load_weights(tmp_path / "w.weights.h5")
    return fitted.predict(x, verbose=0), loaded.predict(x, verbose=0)


RELOADS = {"torch": _torch_reload, "keras": _keras_reload}


@pytest.mark.parametrize("backend", list(RELOADS))
def test_loading_saved_statistics_makes_the_model_ready(backend: str, tmp_path: Path):
    if not available(backend):
        pytest.skip(f"needs {backend}")
    fitted, loaded = RELOADS[backend](built(backend, tmp_path), tmp_path)
    np.testing.assert_array_equal(fitted, loaded)


# --- Flax: the state restored with Flax's own functions is enough -------------------------------


def _flax_saved(module: ModuleType) -> tuple[Any, bytes, np.ndarray]:
    """An adapted model in eval mode, its state as msgpack bytes (``nnx.state``,
    ``to_state_dict``, ``msgpack_serialize``) and inputs."""
    from flax import nnx, serialization

    x = threshold()[0][:64]
    fitted = module.ThresholdInputNorm(rngs=nnx.Rngs(0))
    fitted.input_norm.adapt(x)
    fitted.eval()
    state = serialization.to_state_dict(nnx.to_pure_dict(nnx.state(fitted)))
    return fitted, serialization.msgpack_serialize(state), x


def _flax_restore(module: ModuleType, data: bytes, how: str, tmp_path: Path) -> Any:
    """A fresh model (other seed) whose state is restored by ``how``, nothing else."""
    from flax import nnx, serialization

    model = module.ThresholdInputNorm(rngs=nnx.Rngs(1))
    stored = serialization.msgpack_restore(data)
    if how == "update":
        nnx.update(model, stored)
    elif how == "replace_by_pure_dict":
        state = nnx.state(model)
        nnx.replace_by_pure_dict(state, stored)
        nnx.update(model, state)
    else:  # an Orbax checkpoint of the restored state, restored in turn
        ocp = pytest.importorskip("orbax.checkpoint")
        source = module.ThresholdInputNorm(rngs=nnx.Rngs(2))
        nnx.update(source, stored)
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(tmp_path / "checkpoint", nnx.state(source))
        checkpointer.wait_until_finished()
        nnx.update(model, checkpointer.restore(tmp_path / "checkpoint", nnx.state(model)))
    model.eval()
    return model


@pytest.mark.parametrize("how", ["update", "replace_by_pure_dict", "orbax"])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_a_flax_state_restored_with_flax_functions_makes_the_model_ready(
    how: str, jit: bool, tmp_path: Path
) -> None:
    """No ``fitted = True`` by hand: the restored statistics are what counts, also when the
    first call is compiled (``nnx.jit``), where the check runs inside the compiled function."""
    if not available("flax"):
        pytest.skip("needs flax")
    from flax import nnx

    if how == "replace_by_pure_dict" and not hasattr(nnx, "replace_by_pure_dict"):
        pytest.skip("this Flax has no nnx.replace_by_pure_dict")
    module = built("flax", tmp_path)
    fitted, data, x = _flax_saved(module)
    loaded = _flax_restore(module, data, how, tmp_path)
    assert loaded.input_norm.fitted
    run = nnx.jit(lambda model, x: model(x)) if jit else (lambda model, x: model(x))
    np.testing.assert_array_equal(np.asarray(run(loaded, x)), np.asarray(fitted(x)))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(fitted(x)))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_an_unfitted_flax_model_refuses_eagerly_and_compiled(jit: bool, tmp_path: Path) -> None:
    """Eagerly the layer raises at once; under ``nnx.jit`` the compiled function raises the
    same message as it runs (NaN statistics would not reliably give a NaN output)."""
    if not available("flax"):
        pytest.skip("needs flax")
    from flax import nnx

    model = built("flax", tmp_path).ThresholdInputNorm(rngs=nnx.Rngs(0))
    assert not model.input_norm.fitted
    run = nnx.jit(lambda model, x: model(x)) if jit else (lambda model, x: model(x))
    with pytest.raises(RuntimeError, match=r"mean and std are not set; call its adapt\(x_train\)"):
        np.asarray(run(model, threshold()[0][:8]))
