"""``output: {logits: true}``: the model returns what enters its final softmax or sigmoid, in
every framework, so the stock losses take ``model(x)`` as it is; each framework has a
documented probabilities function; the canonical form says so, and only then (every other
spec keeps its canonical text and hash); bad values are reported at the spec."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec.ir.serialize import to_yaml
from normspec.run import metrics
from normspec.spec.canonicalize import load_with_head
from test_backends_shared import available

SPEC = ROOT / "specs" / "mlp_logits.yaml"
STEPS, LR = 5, 1e-2


def data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 16, (n, 8, 8, 1)).astype(np.float32), rng.integers(0, 10, n)


def test_the_canonical_form_carries_it_and_only_when_set() -> None:
    logits, plain = normspec.load(SPEC), normspec.load(ROOT / "specs" / "mlp.yaml")
    assert logits.output.logits and not plain.output.logits
    assert "output:\n  logits: true\n" in to_yaml(logits)
    assert "output:" not in to_yaml(plain)
    assert normspec.load(to_yaml(logits)) == logits  # the canonical form is a spec
    assert logits.ops == plain.ops  # the same model
    note = load_with_head(SPEC)[1]
    assert note is not None and note.line().endswith(
        "; the model returns what enters its final softmax"
    )


@pytest.mark.parametrize(
    ("yaml", "where", "message"),
    [
        ("layers:\n  - dense: 3\noutput: {logits: true}", "6:18: output.logits:", "ends in dense"),
        ("layers:\n  - dense: 3\noutput: {logits: 1}", "6:18: output.logits:", "valid boolean"),
        (
            "layers:\n  - dense: {units: 3, activation: softmax}\ntrain: {from_logits: true}",
            "6:9: train.from_logits:",
            "write output: {logits: true}",
        ),
    ],
    ids=["no_head", "not_a_bool", "misplaced"],
)
def test_bad_values_are_reported_at_the_spec(yaml: str, where: str, message: str, tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(f"normspec: 1\nname: n\ninput: {{shape: [4]}}\n{yaml}\n")
    with pytest.raises(normspec.SpecError) as info:
        normspec.load(path)
    assert f"{path}:{where}" in str(info.value) and message in str(info.value)


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_the_stock_torch_loss_on_forward_trains_the_model() -> None:
    """``nn.CrossEntropyLoss()(model(x), y)`` is the spec's loss and trains the model;
    ``probabilities`` is the softmax of ``forward``."""
    import torch

    spec = normspec.load(SPEC)
    torch.manual_seed(0)
    model = normspec.build(spec, "torch")
    x, y = data()
    xt, yt = torch.from_numpy(np.moveaxis(x, -1, 1)), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        out = model(xt)
        torch.testing.assert_close(model.probabilities(xt), torch.softmax(out, dim=1))
    assert float(loss_fn(out, yt)) == pytest.approx(metrics.loss(spec, out.numpy(), y), rel=1e-5)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    losses = []
    for _ in range(STEPS):
        loss = loss_fn(model(xt), yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_the_compiled_torch_model_trains_on_the_logits_as_the_eager_one() -> None:
    """``torch.compile(model)`` compiles ``forward``, the logits: trained with the stock loss
    from the same weights, its losses are the eager model's."""
    import torch

    spec = normspec.load(SPEC)
    eager, compiled = normspec.build(spec, "torch"), normspec.build(spec, "torch")
    compiled.load_state_dict(eager.state_dict())
    x, y = data()
    xt, yt = torch.from_numpy(np.moveaxis(x, -1, 1)), torch.from_numpy(y)
    losses = {}
    for name, model, run in (("eager", eager, eager), ("compiled", compiled, None)):
        run = run or torch.compile(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        losses[name] = []
        for _ in range(STEPS):
            loss = torch.nn.CrossEntropyLoss()(run(xt), yt)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-5)
    assert losses["eager"][-1] < losses["eager"][0]


@pytest.mark.skipif(not available("flax"), reason="needs flax")
def test_the_stock_optax_loss_on_call_trains_the_model_compiled_as_eager() -> None:
    """``optax.softmax_cross_entropy_with_integer_labels(model(x), y)`` is the spec's loss;
    a step compiled with ``nnx.jit`` computes the eager step's loss, and the model learns;
    ``probabilities`` is the softmax of ``__call__``."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    spec = normspec.load(SPEC)
    x, y = (jnp.asarray(a) for a in data())

    def loss_fn(model: nnx.Module) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

    def step(model: nnx.Module, optimizer: nnx.Optimizer) -> jax.Array:
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    losses = {}
    for name, run in (("eager", step), ("compiled", nnx.jit(step))):
        model = normspec.build(spec, "flax")
        if name == "eager":
            out = np.asarray(model(x))
            assert float(loss_fn(model)) == pytest.approx(
                metrics.loss(spec, out, np.asarray(y)), rel=1e-5
            )
            expected = np.asarray(jax.nn.softmax(out, axis=-1))
            np.testing.assert_allclose(np.asarray(model.probabilities(x)), expected, rtol=1e-6)
        optimizer = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)
        losses[name] = [float(run(model, optimizer)) for _ in range(STEPS)]
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-5)
    assert losses["eager"][-1] < losses["eager"][0]


@pytest.mark.skipif(not available("keras"), reason="needs keras")
def test_the_keras_model_returns_logits_and_its_probability_model_the_softmax() -> None:
    """The stock loss with ``from_logits=True`` on the model's output is the spec's loss;
    ``probability_model(model)`` shares its layers and adds the softmax."""
    import keras

    spec = normspec.load(SPEC)
    model = normspec.build(spec, "keras")
    namespace: dict[str, object] = {}
    exec(normspec.emit(spec, "keras"), namespace)
    probabilities = namespace["probability_model"](model)  # type: ignore[operator]
    x, y = data(16)
    out = np.asarray(model(x, training=False))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, out)
    assert float(loss) == pytest.approx(metrics.loss(spec, out, y), rel=1e-5)
    expected = np.exp(out) / np.exp(out).sum(-1, keepdims=True)
    np.testing.assert_allclose(probabilities.predict(x, verbose=0), expected, rtol=1e-5)
    assert {w.path for w in probabilities.weights} == {w.path for w in model.weights}
