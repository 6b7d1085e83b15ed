"""The idiomatic trainers (``fit``/``predict``) of every backend: callbacks, learning, seeded
determinism, active dropout, the loss read from the right tensor, eval-mode prediction, one
update rule per optimizer, and agreement across backends from identical weights."""

from __future__ import annotations

import importlib
import importlib.util
import math
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import normspec
from normspec.ir.graph import SGD, Adam, CanonicalSpec
from normspec.run.data import Dataset, load_dataset
from normspec.run.train import starting_weights

FRAMEWORKS = {"torch": ("torch",), "keras": ("keras", "tensorflow"), "flax": ("flax", "optax")}


def installed(name: str) -> bool:
    modules = (f"normspec.backends.{name}", *FRAMEWORKS[name])
    return all(importlib.util.find_spec(m) is not None for m in modules)


BACKENDS = [
    pytest.param(b, marks=pytest.mark.skipif(not installed(b), reason=f"{b} missing"))
    for b in FRAMEWORKS
]

CNN = """
normspec: 1
name: trainer_cnn
input: {shape: [8, 8, 1], normalize: standardize}
defaults: {activation: relu, norm: {kind: batch, position: before_activation}}
layers:
  - conv2d: {filters: 4, padding: same, strides: 2}
  - flatten
  - dense: {units: 16DROPOUT}
  - dense: {units: 10, activation: softmax, norm: none}
train: {optimizer: {kind: sgd, learning_rate: 0.05, momentum: 0.9}, loss: cross_entropy}
"""
MOMENTUM = SGD(learning_rate=0.05, momentum=0.9, nesterov=False)


def cnn(dropout: float | None = 0.25) -> CanonicalSpec:
    return normspec.load(CNN.replace("DROPOUT", f", dropout: {dropout}" if dropout else ""))


@cache
def digits() -> Dataset:
    """70 training images (four batches of 16 and a short one of 6) and 40 validation ones."""
    d = load_dataset("digits", seed=0)
    return Dataset("digits", d.x_train[:70], d.y_train[:70], d.x_val[:40], d.y_val[:40])


@cache
def moons() -> Dataset:
    d = load_dataset("moons", seed=0)
    return Dataset("moons", d.x_train[:48], d.y_train[:48], d.x_val[:16], d.y_val[:16])


def trainer(name: str) -> ModuleType:
    return importlib.import_module(f"normspec.backends.{name}.trainer")


def model_for(name: str, spec: CanonicalSpec, weights: dict[str, np.ndarray]) -> Any:
    from normspec.backends import get_backend

    backend = get_backend(name)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    return model


def run_fit(
    name: str,
    spec: CanonicalSpec,
    data: Dataset,
    optimizer: SGD | Adam = MOMENTUM,
    *,
    epochs: int = 3,
    batch_size: int = 16,
    seed: int = 0,
    weights: dict[str, np.ndarray] | None = None,
) -> tuple[list[dict[str, float]], list[int], Any]:
    """Train a fresh model; returns the epoch metrics, the batch indices seen, the model."""
    model = model_for(name, spec, weights or starting_weights(spec, data, seed=1))
    epochs_seen: list[dict[str, float]] = []
    batches_seen: list[int] = []

    def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
        epochs_seen.append({"epoch": epoch, **logs})

    trainer(name).fit(
        model,
        spec,
        data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        optimizer=optimizer,
        on_batch_end=batches_seen.append,
        on_epoch_end=on_epoch_end,
    )
    return epochs_seen, batches_seen, model


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_reports_learns_and_is_deterministic(backend: str) -> None:
    spec = cnn()
    logs, seen, _ = run_fit(backend, spec, digits())
    assert seen == [0, 1, 2, 3, 4] * 3
    assert [row["epoch"] for row in logs] == [0, 1, 2]
    for row in logs:
        assert set(row) == {"epoch", "loss", "accuracy"}
        assert math.isfinite(row["loss"]) and 0.0 <= row["accuracy"] <= 1.0
    assert logs[-1]["loss"] < 0.8 * logs[0]["loss"]
    assert logs[-1]["accuracy"] > logs[0]["accuracy"]
    again, _, _ = run_fit(backend, spec, digits())
    assert again == logs  # same seed, same dropout masks and batches: identical metrics


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_is_active_in_training(backend: str) -> None:
    """With the same weights and batches, only dropout can change the first epoch's loss."""
    weights = starting_weights(cnn(), digits(), seed=1)
    with_dropout, _, _ = run_fit(backend, cnn(0.5), digits(), epochs=1, weights=weights)
    without, _, _ = run_fit(backend, cnn(None), digits(), epochs=1, weights=weights)
    assert abs(with_dropout[0]["loss"] - without[0]["loss"]) > 1e-3
    other_seed, _, _ = run_fit(backend, cnn(0.5), digits(), epochs=1, seed=5, weights=weights)
    assert other_seed[0]["loss"] != with_dropout[0]["loss"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_is_eval_mode(backend: str) -> None:
    from normspec.backends import get_backend

    spec, data = cnn(0.5), digits()
    _, _, model = run_fit(backend, spec, data, epochs=1)
    b, run = get_backend(backend), trainer(backend)
    before = b.get_weights(model, spec)
    out = run.predict(model, spec, data.x_val)
    assert out.shape == (40, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    # Running statistics, no dropout: a row does not depend on the rest of its batch.
    np.testing.assert_allclose(run.predict(model, spec, data.x_val[5:12]), out[5:12], atol=1e-6)
    for key, value in b.get_weights(model, spec).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    eval_out = b.forward(model, spec, data.x_val, train=False)["output"]
    np.testing.assert_allclose(out, eval_out, atol=1e-6)
    train_out = b.forward(model, spec, data.x_val, train=True)["output"]
    assert np.max(np.abs(train_out - out)) > 1e-3  # batch statistics would differ


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_from_an_epoch_callback_sees_the_real_outputs(backend: str) -> None:
    """Validation runs inside the epoch callback, while ``fit`` may read logits for its loss:
    there ``predict`` still returns the model's probabilities, the same as after ``fit``."""
    from normspec.backends import get_backend

    spec, data = cnn(None), digits()
    model = model_for(backend, spec, starting_weights(spec, data, seed=1))
    during: list[np.ndarray] = []
    get_backend(backend).fit(model, spec, data, epochs=1, batch_size=16, seed=0,
                             optimizer=MOMENTUM,
                             on_epoch_end=lambda e, logs: during.append(
                                 get_backend(backend).predict(model, spec, data.x_val)))  # fmt: skip
    after = get_backend(backend).predict(model, spec, data.x_val)
    np.testing.assert_allclose(during[0].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(during[0], after, atol=1e-6)


MOONS = """
normspec: 1
name: trainer_moons
input: {shape: [2]}
layers:
  - dense: {units: 8, activation: tanh}
  - dense: {units: UNITS, activation: ACTIVATION}
train: {optimizer: {kind: sgd, learning_rate: 0.1}, loss: LOSS}
"""


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def expected_loss(spec: CanonicalSpec, z: np.ndarray, y: np.ndarray) -> float:
    """The loss from the logits ``z`` (the final activation's input where there is one)."""
    if spec.train.loss == "cross_entropy":
        return float(-np.mean(log_softmax(z)[np.arange(len(y)), y]))
    t = y.astype(np.float64).reshape(z.shape)
    if spec.train.loss == "binary_cross_entropy":
        return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))
    return float(np.mean((z - t) ** 2))


def loss_case(case: str) -> tuple[CanonicalSpec, Dataset, dict[str, np.ndarray]]:
    if case == "saturated_softmax":  # float32 probabilities underflow: needs the logits
        spec = cnn(None)
        weights = starting_weights(spec, digits(), seed=1)
        weights["dense_2.kernel"] = weights["dense_2.kernel"] * 60
        return spec, digits(), weights
    units, activation, loss = {
        "sigmoid_bce": (1, "sigmoid", "binary_cross_entropy"),
        "logits_bce": (1, "linear", "binary_cross_entropy"),
        "logits_cross_entropy": (2, "linear", "cross_entropy"),
        "mse": (1, "linear", "mean_squared_error"),
        "returns_logits_sigmoid": (1, "sigmoid", "binary_cross_entropy"),
        "returns_logits_softmax": (2, "softmax", "cross_entropy"),
    }[case]
    text = MOONS.replace("UNITS", str(units)).replace("ACTIVATION", activation)
    if case.startswith("returns_logits"):  # the model returns what enters its activation
        text += "output: {logits: true}\n"
    spec = normspec.load(text.replace("LOSS", loss))
    return spec, moons(), starting_weights(spec, moons(), seed=1)


LOSS_CASES = [
    "saturated_softmax", "sigmoid_bce", "logits_bce", "logits_cross_entropy", "mse",
    "returns_logits_sigmoid", "returns_logits_softmax",
]  # fmt: skip


@pytest.mark.parametrize("case", LOSS_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_and_accuracy_follow_the_output(backend: str, case: str) -> None:
    """One epoch of one full batch: the reported loss is the loss before the step, computed
    from the logits, and the accuracy that of the (train-mode) outputs."""
    from normspec.backends import get_backend
    from normspec.run import metrics

    spec, data, weights = loss_case(case)
    n = len(data.x_train)
    logs, _, _ = run_fit(backend, spec, data, epochs=1, batch_size=n, weights=weights)
    outputs = get_backend(backend).forward(
        model_for(backend, spec, weights), spec, data.x_train, train=True
    )
    reads_logits = case in ("saturated_softmax", "sigmoid_bce")
    z = outputs[spec.ops[-2].name] if reads_logits else outputs["output"]
    want = expected_loss(spec, z.astype(np.float64), data.y_train)
    if case == "saturated_softmax":
        assert want > 30  # beyond any clipped-probability loss (-log 1e-7 = 16.1)
    assert logs[0]["loss"] == pytest.approx(want, rel=1e-5)
    accuracy = metrics.accuracy(spec, outputs["output"], data.y_train)
    if math.isnan(accuracy):
        assert math.isnan(logs[0]["accuracy"])
    else:
        assert logs[0]["accuracy"] == pytest.approx(accuracy, abs=1e-9)


def reference_updates(opt: SGD | Adam, p: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The IR's update rules in float64: SGD as PyTorch, Adam with epsilon on sqrt(v_hat)."""
    p, m, v = p.astype(np.float64), np.zeros_like(p, np.float64), np.zeros_like(p, np.float64)
    for step, g in enumerate(grads, start=1):
        if isinstance(opt, SGD):
            m = opt.momentum * m + g
            p = p - opt.learning_rate * (g + opt.momentum * m if opt.nesterov else m)
        else:
            m = opt.beta1 * m + (1 - opt.beta1) * g
            v = opt.beta2 * v + (1 - opt.beta2) * g * g
            m_hat, v_hat = m / (1 - opt.beta1**step), v / (1 - opt.beta2**step)
            p = p - opt.learning_rate * m_hat / (np.sqrt(v_hat) + opt.epsilon)
    return p


def apply_updates(backend: str, opt: Any, p: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Feed ``grads`` to the backend's optimizer for one float32 parameter vector."""
    make = trainer(backend).make_optimizer
    if backend == "torch":
        import torch

        param = torch.nn.Parameter(torch.tensor(p))
        torch_opt = make([param], opt)
        for g in grads:
            param.grad = torch.tensor(g)
            torch_opt.step()
        return param.detach().numpy()
    if backend == "keras":
        import keras

        variable = keras.Variable(p, dtype=str(p.dtype))
        keras_opt = opt() if callable(opt) else make(opt)  # a callable: a stock optimizer
        for g in grads:
            keras_opt.apply([keras.ops.convert_to_tensor(g)], [variable])
        return keras.ops.convert_to_numpy(variable)
    import jax
    import optax

    # A float64 model turns on JAX's 64-bit mode when it is built; here there is no model.
    with jax.enable_x64(p.dtype == np.float64):
        tx, params = make(opt), p
        state = tx.init(params)
        for g in grads:
            updates, state = tx.update(g, state, params)
            params = optax.apply_updates(params, updates)
        return np.asarray(params)


OPTIMIZERS = {
    "sgd": SGD(learning_rate=0.1, momentum=0.0, nesterov=False),
    "momentum": SGD(learning_rate=0.1, momentum=0.9, nesterov=False),
    "nesterov": SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    # Gradients near 1e-3 with epsilon 1e-3: where epsilon is added matters.
    "adam": Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-3),
}
P0 = np.linspace(-1, 1, 5)


def gradients(opt: SGD | Adam) -> np.ndarray:
    scale = 1e-3 if isinstance(opt, Adam) else 1.0
    return np.random.default_rng(0).normal(scale=scale, size=(6, 5))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_optimizer_is_the_ir_update_rule(backend: str, name: str, dtype: str) -> None:
    """Also in float64, where a hyperparameter rounded to float32 would show."""
    opt, p0 = OPTIMIZERS[name], P0.astype(dtype)
    got = apply_updates(backend, opt, p0, gradients(opt).astype(dtype))
    assert got.dtype == np.dtype(dtype)
    want = reference_updates(opt, p0, gradients(opt).astype(dtype))
    tol = {"float32": 1e-6, "float64": 1e-13}[dtype]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol / 10)
    assert np.max(np.abs(want - p0)) > 1e-3  # the steps are far larger than the tolerance


@pytest.mark.skipif(not installed("keras"), reason="keras missing")
def test_stock_keras_adam_differs() -> None:
    """Keras' own Adam puts epsilon elsewhere, which the Adam test above would catch."""
    import keras

    opt = OPTIMIZERS["adam"]

    def stock() -> Any:
        return keras.optimizers.Adam(
            learning_rate=opt.learning_rate,
            beta_1=opt.beta1,
            beta_2=opt.beta2,
            epsilon=opt.epsilon,
        )

    p0, grads = P0.astype("float32"), gradients(opt).astype("float32")
    got = apply_updates("keras", stock, p0, grads)
    assert np.max(np.abs(got - reference_updates(opt, p0, grads))) > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [OPTIMIZERS["momentum"], OPTIMIZERS["nesterov"], OPTIMIZERS["adam"]],
    ids=["momentum", "nesterov", "adam"],
)
def test_backends_agree_from_identical_weights(optimizer: SGD | Adam) -> None:
    """A batch-norm network without dropout, three epochs: the same losses everywhere."""
    names = [b for b in FRAMEWORKS if installed(b)]
    if len(names) < 2:
        pytest.skip("needs two backends")
    spec, data = cnn(None), digits()
    weights = starting_weights(spec, data, seed=1)
    losses = {
        name: np.array(
            [row["loss"] for row in run_fit(name, spec, data, optimizer, weights=weights)[0]]
        )
        for name in names
    }
    reference = losses[names[0]]
    assert reference[-1] < reference[0]
    for name in names[1:]:
        np.testing.assert_allclose(losses[name], reference, rtol=1e-3, err_msg=name)


def has_gpu(backend: str) -> bool:
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "keras":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    import jax

    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.mark.parametrize("backend", BACKENDS)
def test_device_setting(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from normspec.errors import BackendError

    spec, data, weights = loss_case("mse")
    monkeypatch.setenv("NORMSPEC_DEVICE", "cpu")
    logs, _, model = run_fit(backend, spec, data, epochs=1, weights=weights)
    assert math.isfinite(logs[0]["loss"])
    assert trainer(backend).predict(model, spec, data.x_val).shape == (16, 1)
    monkeypatch.setenv("NORMSPEC_DEVICE", "quantum")
    with pytest.raises(BackendError, match="NORMSPEC_DEVICE='quantum'"):
        trainer(backend).predict(model, spec, data.x_val)
    if not has_gpu(backend):
        monkeypatch.setenv("NORMSPEC_DEVICE", "gpu")
        with pytest.raises(BackendError, match=r"no (CUDA|gpu) device"):
            trainer(backend).predict(model, spec, data.x_val)
