"""The generated model meets each framework's stock loss as its docstring says. PyTorch:
``forward`` returns the spec's output (after a final softmax or sigmoid) and ``logits`` what
enters it, which ``nn.CrossEntropyLoss`` / ``nn.BCEWithLogitsLoss`` expect."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec.run import metrics
from test_backends_shared import available

needs_torch = pytest.mark.skipif(not available("torch"), reason="needs torch")
needs_keras = pytest.mark.skipif(not available("keras"), reason="needs keras")

CASES = {
    "softmax": (ROOT / "specs" / "mlp.yaml", "CrossEntropyLoss"),
    "sigmoid": (ROOT / "specs" / "threshold_plain.yaml", "BCEWithLogitsLoss"),
}


def inputs(spec: normspec.CanonicalSpec, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 16, (n, *spec.input.shape)).astype(np.float32)
    classes = spec.output_shape[-1] if spec.train.loss == "cross_entropy" else 2
    return x, rng.integers(0, classes, n)


@needs_torch
@pytest.mark.parametrize("head", list(CASES))
def test_the_stock_torch_loss_on_logits_is_the_spec_loss(head: str) -> None:
    import torch

    path, loss_name = CASES[head]
    spec = normspec.load(path)
    model = normspec.build(spec, "torch").eval()
    x, y = inputs(spec)
    xt = torch.from_numpy(np.moveaxis(x, -1, 1) if x.ndim > 2 else x)
    with torch.no_grad():
        logits, out = model.logits(xt), model(xt)
    activation = torch.softmax(logits, dim=1) if head == "softmax" else torch.sigmoid(logits)
    torch.testing.assert_close(activation, out)
    target = torch.from_numpy(y) if head == "softmax" else torch.from_numpy(y[:, None] * 1.0)
    stock = getattr(torch.nn, loss_name)()(
        logits.double(), target.double() if head != "softmax" else target
    )
    assert float(stock) == pytest.approx(metrics.loss(spec, out.numpy(), y), rel=1e-5)


@needs_torch
@pytest.mark.parametrize("head", list(CASES))
def test_the_class_docstring_names_the_stock_loss(head: str) -> None:
    path, loss_name = CASES[head]
    source = normspec.emit(path, "torch")
    assert f"``nn.{loss_name}`` expects" in source
    assert "def logits(self, x: torch.Tensor) -> torch.Tensor:" in source


def test_a_model_without_a_final_softmax_has_no_logits_method() -> None:
    text = (
        "normspec: 1\nname: reg\ninput: {shape: [3]}\nlayers:\n  - dense: 1\n"
        "train: {loss: mean_squared_error}\n"
    )
    source = normspec.emit(text, "torch")
    assert "def logits" not in source


def test_a_layer_named_logits_is_refused() -> None:
    text = (
        "normspec: 1\nname: n\ninput: {shape: [3]}\nlayers:\n  - dense: {units: 2, name: logits}\n"
    )
    with pytest.raises(normspec.SpecError, match="reserved by the generated code"):
        normspec.load(text)


KERAS_LOSSES = {"softmax": "SparseCategoricalCrossentropy", "sigmoid": "BinaryCrossentropy"}


@needs_keras
@pytest.mark.parametrize("head", list(CASES))
def test_the_stock_keras_loss_on_the_output_is_the_spec_loss(head: str) -> None:
    """A Keras model ends in the spec's softmax or sigmoid: the stock losses with their
    default ``from_logits=False`` read it as it is."""
    import keras

    path, _ = CASES[head]
    spec = normspec.load(path)
    model = normspec.build(spec, "keras")
    x, y = inputs(spec)
    out = np.asarray(model(x, training=False))
    target = y if head == "softmax" else y[:, None].astype(np.float32)
    stock = float(getattr(keras.losses, KERAS_LOSSES[head])()(target, out))
    assert f"keras.losses.{KERAS_LOSSES[head]}()" in normspec.emit(path, "keras")
    assert stock == pytest.approx(metrics.loss(spec, out, y), rel=1e-4)


needs_flax = pytest.mark.skipif(not available("flax"), reason="needs flax")


@needs_flax
@pytest.mark.parametrize("head", list(CASES))
def test_the_stock_optax_loss_on_logits_is_the_spec_loss(head: str) -> None:
    import jax
    import optax

    path, _ = CASES[head]
    spec = normspec.load(path)
    model = normspec.build(spec, "flax")
    model.eval()
    x, y = inputs(spec)
    logits, out = model.logits(x), model(x)
    activation = jax.nn.softmax(logits, axis=-1) if head == "softmax" else jax.nn.sigmoid(logits)
    np.testing.assert_allclose(np.asarray(activation), np.asarray(out), rtol=1e-6, atol=1e-7)
    if head == "softmax":
        stock = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    else:
        stock = optax.sigmoid_binary_cross_entropy(logits, y[:, None] * 1.0).mean()
    assert float(stock) == pytest.approx(metrics.loss(spec, np.asarray(out), y), rel=1e-4)
    assert "optax." in normspec.emit(path, "flax")
