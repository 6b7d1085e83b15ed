"""Residuals written as block classes: which nodes make a block, which residuals share a class
and what its constructor takes, and the PyTorch model built from them (module paths, weights,
``state_dict`` keys)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec import reference
from normspec.backends import blocks, get_backend
from normspec.backends.codegen import Raw, call
from normspec.backends.recording import Statement
from normspec.backends.templates import parametrize
from normspec.ir import ops as ir
from normspec.ir.nodes import GraphNode
from test_backends_shared import available

RESNET18 = ROOT / "specs" / "resnet18.yaml"


def _instances(spec: normspec.CanonicalSpec) -> dict[str, blocks.Instance]:
    return {i.name: i for i in blocks.instances(spec.nodes, str.isidentifier)}


def test_a_residual_block_is_its_branches_its_add_and_the_activation_after_it() -> None:
    spec = normspec.load(RESNET18)
    found = _instances(spec)
    assert sorted(found) == [f"residual_block_{i}" for i in range(1, 9)]
    third = found["residual_block_3"]
    assert [third.local[node.name] for node in third.nodes] == [
        "conv1", "norm1", "act1", "conv2", "norm2", "proj", "proj_bn", blocks.ADD, "out_act"
    ]  # fmt: skip
    assert third.source == "residual_block_2_out_act"
    assert third.shortcut and not found["residual_block_4"].shortcut


def test_a_pre_activation_block_takes_the_norm_and_activation_before_its_branches() -> None:
    spec = normspec.load(ROOT / "specs" / "resnet18_preact.yaml")
    third = _instances(spec)["residual_block_3"]
    locals_ = [third.local[node.name] for node in third.nodes]
    assert locals_[:2] == ["pre_norm", "pre_act"] and locals_[-1] == blocks.ADD


def test_a_residual_whose_inner_value_is_read_outside_it_stays_inline() -> None:
    """A node outside reading the add (not the block's last value) would need a second output."""
    spec = normspec.load(RESNET18)
    add = next(node for node in spec.nodes if node.name == "residual_block_1")
    extra = GraphNode(
        op=ir.Add(name="extra", shape=add.shape),
        inputs=("residual_block_1", "residual_block_1_out_act"),
        input_shapes=(add.shape, add.shape),
    )
    found = {i.name for i in blocks.instances((*spec.nodes, extra), str.isidentifier)}
    assert "residual_block_1" not in found and "residual_block_2" in found


def test_a_local_name_a_class_cannot_take_keeps_the_residual_inline() -> None:
    spec = normspec.load(RESNET18)
    found = blocks.instances(spec.nodes, lambda name: name != "proj")
    assert {i.name for i in found} == {f"residual_block_{i}" for i in (1, 2, 4, 6, 8)}


def test_numbers_that_differ_are_parameters_one_per_sequence_of_values() -> None:
    """Equal sequences across the uses are one parameter (a conv's in and out channels that are
    always equal: ``channels``); a number equal in every use stays a literal."""

    def recorded(cin: int, cout: int) -> list[Statement | str]:
        conv = call("nn.Conv2d", cin, cout, kernel_size=3, stride=1, dtype=Raw("dtype"))
        norm = call("nn.BatchNorm2d", cout, eps=1e-05)
        return [Statement("self.conv = ", conv, ""), Statement("self.bn = ", norm, "")]

    def names(fn: str) -> tuple[str, ...]:
        return {"nn.Conv2d": ("in_channels", "out_channels")}.get(fn, ("num_features",))

    square = parametrize((), [recorded(8, 8), recorded(16, 16)], names, frozenset())
    assert [(p.name, p.values) for p in square.parameters] == [("channels", (8, 16))]
    conv = square.statements[0]
    assert isinstance(conv, Statement)
    assert conv.value == call(
        "nn.Conv2d", Raw("channels"), Raw("channels"), kernel_size=3, stride=1, dtype=Raw("dtype")
    )
    wider = parametrize((), [recorded(8, 16), recorded(16, 32)], names, frozenset())
    assert [p.name for p in wider.parameters] == ["in_channels", "out_channels"]
    same = parametrize((), [recorded(8, 8), recorded(8, 8)], names, frozenset())
    assert same.parameters == ()


def test_the_torch_resnet18_is_two_block_classes_instantiated_per_residual() -> None:
    source = get_backend("torch").emit(normspec.load(RESNET18))
    assert source.count("(nn.Module):") == 5  # Standardize, GlobalAvgPool, two blocks, model
    assert "class ResidualBlock(nn.Module):" in source
    assert "class ResidualBlockWithShortcut(nn.Module):" in source
    assert "self.residual_block_1 = ResidualBlock(channels=64, dtype=dtype)" in source
    assert "in_channels=256, channels=512, dtype=dtype" in source
    assert "conv3x3 = partial(nn.Conv2d, kernel_size=3, padding=1, bias=False)" in source
    assert "conv1x1 = partial(nn.Conv2d, kernel_size=1, padding=0, bias=False)" in source
    calls = source.count("conv3x3(") + source.count("conv1x1(")
    assert calls == 1 + 2 + 3  # the stem, each block class's
    assert len(source.splitlines()) <= 250
    assert "x = self.residual_block_8(x)" in source
    assert "self.residual_block_7.proj.weight" in source  # initialized by the model


@pytest.mark.torch
@pytest.mark.skipif(not available("torch"), reason="torch backend missing")
def test_torch_weights_of_a_block_are_its_modules_own() -> None:
    spec = normspec.load(ROOT / "tests" / "data" / "v1" / "small_resnet.yaml")
    backend = get_backend("torch")
    model = backend.build(spec)
    keys = set(model.state_dict())
    assert {"residual_block_2.proj.weight", "residual_block_2.proj_bn.running_mean"} <= keys
    assert not any(key.startswith("residual_block_2_") for key in keys)
    weights = normspec.init_weights(spec, seed=3)
    backend.set_weights(model, spec, weights)
    back = backend.get_weights(model, spec)
    assert set(back) == set(weights)
    for key, value in weights.items():
        np.testing.assert_array_equal(back[key], np.asarray(value, dtype=back[key].dtype), key)
    conv = model.residual_block_2.proj.weight.detach().numpy()
    kernel = np.asarray(weights["residual_block_2_proj.kernel"], dtype=np.float32)
    np.testing.assert_array_equal(conv, np.transpose(kernel, (3, 2, 0, 1)))


@pytest.mark.torch
@pytest.mark.skipif(not available("torch"), reason="torch backend missing")
def test_a_generated_resnet_trains_saves_and_loads_in_the_users_own_loop(tmp_path: Path) -> None:
    """``normspec build``, import, a step of the stock optimizer and loss on ``logits()``, then
    ``torch.save(state_dict)`` into a fresh model: the same outputs, blocks included."""
    import importlib.util

    import torch
    from click.testing import CliRunner

    from normspec.cli import main

    path = tmp_path / "small_resnet_torch.py"
    spec_path = ROOT / "tests" / "data" / "v1" / "small_resnet.yaml"
    result = CliRunner().invoke(main, ["build", str(spec_path), "-b", "torch", "-o", str(path)])
    assert result.exit_code == 0, result.output
    found = importlib.util.spec_from_file_location(path.stem, path)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.SmallResnet()
    x = torch.randn(16, 3, 8, 8)
    model.input_norm.adapt(x)
    y = torch.randint(0, 3, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = model.residual_block_2.conv1.weight.detach().clone()
    loss = torch.nn.CrossEntropyLoss()(model.logits(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.residual_block_2.conv1.weight)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    fresh = module.SmallResnet()
    fresh.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    model.eval()
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_the_flax_resnet18_is_two_block_classes_on_the_block_base() -> None:
    source = get_backend("flax").emit(normspec.load(RESNET18))
    assert "class Block(nnx.Module):" in source
    assert "class ResidualBlock(Block):" in source
    assert "class ResidualBlockWithShortcut(Block):" in source
    assert "self.residual_block_1 = ResidualBlock(" in source
    assert source.count("nnx.Conv(") == 1 + 2 + 3
    assert 'self.sow(nnx.Intermediate, "proj_bn", shortcut)' in source


@pytest.mark.flax
@pytest.mark.skipif(not available("flax"), reason="flax backend missing")
def test_flax_weights_and_outputs_of_a_block_are_nested_under_it() -> None:
    """The state holds a block's layers under the block's attribute; every node's output,
    inside blocks too, is captured and matches the reference."""
    from flax import nnx

    spec = normspec.load(ROOT / "tests" / "data" / "v1" / "small_resnet.yaml")
    backend = get_backend("flax")
    model = backend.build(spec)
    state = nnx.to_pure_dict(nnx.state(model))
    assert state["residual_block_2"]["proj"]["kernel"].shape == (1, 1, 4, 8)
    assert "residual_block_2_proj" not in state
    weights = normspec.init_weights(spec, seed=3)
    backend.set_weights(model, spec, weights)
    back = backend.get_weights(model, spec)
    for key, value in weights.items():
        np.testing.assert_array_equal(back[key], np.asarray(value, dtype=back[key].dtype), key)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    outputs = backend.forward(model, spec, x, train=False)
    assert {node.name for node in spec.nodes} <= set(outputs)
    expected, _ = reference.forward(spec, weights, x, train=False)
    for name in ("residual_block_2_proj_bn", "residual_block_2", "residual_1_conv2d_1_elu"):
        np.testing.assert_allclose(outputs[name], expected[name], rtol=1e-4, atol=1e-4)


def test_the_keras_resnet18_is_two_block_functions_keeping_the_layer_names() -> None:
    source = get_backend("keras").emit(normspec.load(RESNET18))
    assert "def residual_block(x: keras.KerasTensor, filters: int, name: str)" in source
    assert "def residual_block_with_shortcut(" in source
    assert 'x = residual_block(x, filters=64, name="residual_block_1")' in source
    assert 'x = residual_block_with_shortcut(x, filters=512, name="residual_block_7")' in source
    assert 'name=f"{name}_proj_bn"' in source and 'name=f"{name}_add"' in source
    assert source.count("layers.Conv2D(") == 1 + 2 + 3


@pytest.mark.keras
@pytest.mark.skipif(not available("keras"), reason="keras backend missing")
def test_keras_layers_of_a_block_function_keep_the_specs_names() -> None:
    spec = normspec.load(ROOT / "tests" / "data" / "v1" / "small_resnet.yaml")
    backend = get_backend("keras")
    model = backend.build(spec)
    names = {layer.name for layer in model.layers}
    assert {"residual_block_2_proj", "residual_block_2_add", "residual_block_1_out_act"} <= names
    weights = normspec.init_weights(spec, seed=3)
    backend.set_weights(model, spec, weights)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    outputs = backend.forward(model, spec, x, train=False)
    expected, _ = reference.forward(spec, weights, x, train=False)
    for name in ("residual_block_2_proj_bn", "residual_block_2", "residual_1_conv2d_1_elu"):
        np.testing.assert_allclose(outputs[name], expected[name], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["x", "padding_pairs", "type", "build_case", "inputs"])
def test_a_keras_block_function_takes_no_name_the_module_uses(name: str) -> None:
    """Not a variable, a helper the module may define, its builder, a keyword or a builtin."""
    from parity_cases import make_spec

    layers = f"- residual_block: {{filters: 4, name: {name}_1}}\n"
    layers += f"- residual_block: {{filters: 4, name: {name}_2}}"
    source = get_backend("keras").emit(make_spec("[8, 8, 4]", layers))
    assert f"def {name}2(x: keras.KerasTensor" in source
    assert f'x = {name}2(x, name="{name}_2")' in source


def test_conventions_of_layers_inside_blocks_are_explained_in_the_module_docstring() -> None:
    """A spec whose batch norms and padded convolutions are all inside blocks still gets the
    notes on Flax's BatchNorm momentum and Keras' padding in its docstring."""
    from parity_cases import make_spec

    layers = "- residual_block: {filters: 4}\n- residual_block: {filters: 8, strides: 2}"
    spec = make_spec("[8, 8, 4]", layers)
    flax_doc = get_backend("flax").emit(spec).split('"""')[1]
    keras_doc = get_backend("keras").emit(spec).split('"""')[1]
    assert "BatchNorm ``momentum`` is Flax's weight of the old running value" in flax_doc
    assert 'padding="same"' in keras_doc
