"""The PyTorch backend: emitted source, names, modes, weights, training steps, fit and predict,
TorchScript and torch.export. Every op and option against the numpy reference (eval and train
mode, float32 and float64) is in test_conformance.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import normspec
from conformance_cases import CASE_OF
from normspec import reference
from normspec.errors import SpecError
from normspec.ir.graph import CanonicalSpec
from normspec.parity import parity_weights, with_dtype
from parity_cases import check_against_reference, make_spec, max_error

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from normspec.backends.torch import BACKEND  # noqa: E402
from normspec.backends.torch.module import MODULE_ATTRIBUTES, class_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
EVEN, ODD, FLAT = "[8, 8, 3]", "[7, 7, 3]", "[6]"


def built(spec: CanonicalSpec, seed: int = 1):
    weights = parity_weights(spec, seed=seed)
    model = BACKEND.build(spec)
    BACKEND.set_weights(model, spec, weights)
    return model, weights


# --- emission ----------------------------------------------------------------------------------


def test_numeric_conventions_are_explicit() -> None:
    spec = make_spec(
        EVEN, "- conv2d: {filters: 2, norm: batch}\n- layer_norm\n- flatten\n- dense: 3"
    )
    source = BACKEND.emit(spec)
    bn = source[source.index("nn.BatchNorm2d(") :].split(")")[0]
    for option in ("eps=1e-05,", "momentum=0.1,", "affine=True,", "track_running_stats=True,"):
        assert option in bn
    assert (
        "nn.init.uniform_(" in source and "nn.init.constant_(self.dense_1.bias, val=0.0)" in source
    )
    layer_norm = source[source.index("= ChannelLayerNorm(") :].split(")")[0]
    assert "eps=1e-05" in layer_norm and "torch.float32" in source
    assert "torch.float64" in BACKEND.emit(with_dtype(spec, "float64"))


def test_layers_built_alike_three_times_or_more_state_their_conventions_once() -> None:
    convs = "- conv2d: {filters: 4, padding: same, norm: batch}\n" * 3
    other = "- conv2d: {filters: 4, padding: same, norm: {kind: batch, epsilon: 0.001}}\n"
    spec = make_spec(EVEN, convs + other * 3 + "- flatten\n- dense: 3")
    source = BACKEND.emit(spec)
    assert "from functools import partial" in source
    assert "conv3x3 = partial(nn.Conv2d, kernel_size=3, padding=1, bias=False)" in source
    assert "batch_norm2d = partial(\n    nn.BatchNorm2d, eps=1e-05, momentum=0.1," in source
    assert "batch_norm2d_2 = partial(\n    nn.BatchNorm2d, eps=0.001, momentum=0.1," in source
    assert "self.conv2d_1 = conv3x3(3, 4, stride=1, dtype=dtype)" in source
    assert "self.conv2d_6_bn = batch_norm2d_2(4, dtype=dtype)" in source
    assert "nn.Linear(" in source  # one dense layer: written out
    model, _ = built(spec)
    norm = model.conv2d_6_bn
    assert type(norm) is torch.nn.BatchNorm2d and norm.eps == 0.001 and norm.momentum == 0.1
    assert type(model.conv2d_2) is torch.nn.Conv2d and model.conv2d_2.padding == (1, 1)
    check_against_reference(BACKEND, spec)
    fewer = BACKEND.emit(
        make_spec(EVEN, convs.replace("norm: batch", "norm: none", 1) + "- flatten")
    )
    assert "nn.BatchNorm2d(" in fewer and "batch_norm2d" not in fewer  # only two of them


def test_op_names_that_clash_with_nn_module_are_refused_where_they_are_written() -> None:
    """The spec refuses every public attribute of ``nn.Module`` as a layer name, with its
    location, so ``validate`` catches what ``build --backend torch`` could not emit."""
    from normspec.ir.constraints import RESERVED_NAMES

    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES <= RESERVED_NAMES | {"buffers", "modules", "parameters"}
    assert public <= RESERVED_NAMES
    with pytest.raises(SpecError, match=r"<string>:\d+:\d+: layers\[0\]\.dense\.name: 'half'"):
        make_spec(FLAT, "- dense: {units: 2, name: half}")


def test_class_names() -> None:
    assert class_name(make_spec(FLAT, "- activation: relu", name="cifar_cnn")) == "CifarCnn"
    assert class_name(make_spec(FLAT, "- activation: relu", name="flatten")) == "FlattenModel"
    assert class_name(make_spec(FLAT, "- activation: relu", name="batch_norm")) == "BatchNormModel"
    model = BACKEND.build(make_spec(EVEN, "- flatten", name="flatten"))
    assert type(model).__name__ == "FlattenModel"


def _all_sources() -> dict[str, str]:
    sources = {path.stem: BACKEND.emit(normspec.load(path)) for path in SPECS}
    for case in ("conv2d_same_s2_even", "max_pool2d_wide_pad", "avg_pool1d_same_s2", "layer_norm",
                 "batch_norm_no_scale", "group_norm_seq", "rms_norm", "residual_nested_then_tanh",
                 "reshape", "standardize"):  # fmt: skip
        for dtype in ("float32", "float64"):
            sources[f"{case}_{dtype}"] = BACKEND.emit(with_dtype(CASE_OF[case].spec, dtype))
    for n in (58, 61, 64):  # where ruff switches between ways of splitting a line
        a, b = "a" * (n - 1), "b" * (n - 1)
        layers = (
            f"- residual: {{name: r{a}, body: [{{residual: {{name: q{a}, body: [{{conv2d: "
            f"{{filters: 3, padding: 1, name: c{a}}}}}, {{activation: {{function: relu, "
            f"name: s{a}}}}}]}}}}], shortcut: [{{conv2d: {{filters: 3, kernel: 1, name: p{b}}}}}]}}\n"
            f"- global_avg_pool: {{name: g{a}}}\n- dense: {{units: 2, name: d{a}, kernel_init: "
            "{distribution: truncated_normal, mean: 0.0, std: 0.123456789, low: -0.1234, high: 0.3}}"
        )
        sources[f"long_{n}"] = BACKEND.emit(make_spec(EVEN, layers, name="n" * 64))
    return sources


def test_emitted_source_is_deterministic_and_ruff_clean() -> None:
    sources = _all_sources()
    for path in SPECS:
        spec = normspec.load(path)
        again = BACKEND.emit(normspec.load(path))  # speed: benchmarks/bench_emit.py
        assert again == sources[path.stem]
        head = sources[path.stem].splitlines()[:3]
        assert normspec.__version__ in head[0] and spec.name in head[1] and spec.hash in head[2]
    ruff = Path(sys.executable).parent / "ruff"
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in sources.items():
            imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
            assert imports and all(
                line.startswith(
                    (
                        "import torch",
                        "from torch ",
                        "from typing ",
                        "import math",
                        "from functools ",
                    )
                )
                for line in imports
            ), imports
            (Path(tmp) / f"{name}.py").write_text(source)
        # Standalone files follow ruff's defaults (line length 88); the project's lint rules
        # (line length 100, more rule sets) must hold too.
        for args in (
            ["format", "--check", "--isolated"],
            ["check", "--isolated", "--select", "E,F,W,I,B,UP,SIM,RUF"],
            ["check", "--config", str(ROOT / "pyproject.toml")],
        ):
            result = subprocess.run([str(ruff), *args, tmp], capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr


def test_generated_file_imports_and_runs_on_its_own(tmp_path: Path) -> None:
    """What users import: the emitted file as a module of its own, without normspec."""
    spec = CASE_OF["residual_post"].spec
    path = tmp_path / "generated_model.py"
    path.write_text(BACKEND.emit(spec))
    module_spec = importlib.util.spec_from_file_location("generated_model", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    model = getattr(module, class_name(spec))()
    assert not any(name.startswith("normspec") for name in vars(module))
    weights = parity_weights(spec, seed=3)
    BACKEND.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 2, seed=4)
    expected, _ = reference.forward(spec, weights, x, train=False)
    out = model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert max_error(out.detach().permute(0, 2, 3, 1).numpy(), expected["output"]) <= 1e-5


# --- modes and specs ---------------------------------------------------------------------------


def test_forward_restores_modes_and_disables_dropout_only_while_comparing() -> None:
    spec = CASE_OF["dropout"].spec
    model, _ = built(spec)
    model.eval()
    x = reference.init_batch(spec, 64, seed=5)
    first = BACKEND.forward(model, spec, x, train=True)["output"]
    np.testing.assert_array_equal(BACKEND.forward(model, spec, x, train=True)["output"], first)
    assert not any(m.training for m in model.modules())
    model.train()
    y = model(torch.from_numpy(x))
    assert (y == 0).any() and all(m.training for m in model.modules())


def test_every_spec_builds_and_matches_the_reference() -> None:
    """The specs of specs/ end to end, in float64, eval and train mode."""
    for path in SPECS:
        spec = with_dtype(normspec.load(path), "float64")
        model, weights = built(spec, seed=0)
        x = reference.init_batch(spec, 2, seed=1)
        for train in (False, True):
            expected, _ = reference.forward(spec, weights, x, train=train)
            got = BACKEND.forward(model, spec, x, train=train)
            assert max_error(got["output"], expected["output"]) <= 1e-10, (path.stem, train)
            for op in spec.ops:  # every node, inside residual blocks too
                assert max_error(got[op.name], expected[op.name]) <= 1e-10, (path.stem, op.name)


# --- weights -----------------------------------------------------------------------------------

ALL_WEIGHTS = """\
- conv2d: {filters: 4, kernel: [3, 2], norm: {kind: batch, running_var: biased}}
- conv2d: {filters: 4, kernel: 1, groups: 2, norm: {kind: group, groups: 2}, activation: gelu}
- layer_norm
- batch_norm: {center: false}
- max_pool2d: {pool: 2, padding: 1, strides: 1}
- rms_norm: {scale: false}
- instance_norm
- reshape: [42, 4]
- conv1d: {filters: 3, kernel: 2, strides: 2, padding: same}
- group_norm: {groups: 3, scale: false}
- flatten
- dense: {units: 5, norm: batch, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- rms_norm
- dense: {units: 3, activation: {function: leaky_relu, negative_slope: 0.1}, norm: none}"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_round_trip_is_the_identity_and_dtype_is_the_specs(dtype: str) -> None:
    spec = make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
    model = BACKEND.build(spec)
    state = model.state_dict()
    assert {v.dtype for k, v in state.items() if "num_batches" not in k} == {getattr(torch, dtype)}
    weights = parity_weights(spec, seed=4)
    BACKEND.set_weights(model, spec, weights)
    back = BACKEND.get_weights(model, spec)
    assert back.keys() == weights.keys()
    for key, value in weights.items():
        assert back[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    fresh = BACKEND.build(spec)
    fresh.load_state_dict(model.state_dict())  # the native format carries the same weights
    for key, value in BACKEND.get_weights(fresh, spec).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)


def test_torch_layouts_of_canonical_weights() -> None:
    spec = make_spec(EVEN, "- conv2d: {filters: 5, kernel: [3, 2]}\n- flatten\n- dense: 4")
    model, weights = built(spec)
    np.testing.assert_array_equal(
        model.conv2d_1.weight.detach().numpy(), weights["conv2d_1.kernel"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_array_equal(
        model.dense_1.weight.detach().numpy(), weights["dense_1.kernel"].T
    )


def test_fresh_weights_follow_the_spec_initializers() -> None:
    layers = """\
- dense: {units: 400, kernel_init: {distribution: uniform, low: -0.5, high: 0.25}, bias_init: {distribution: constant, value: 0.3}}
- dense: {units: 400, kernel_init: {distribution: truncated_normal, mean: 0.1, std: 0.2, low: 0.0, high: 0.5}}
- dense: {units: 400, kernel_init: he_normal, bias_init: {distribution: normal, mean: 2.0, std: 0.5}}"""
    spec = make_spec("[50]", layers)
    torch.manual_seed(0)
    w = BACKEND.get_weights(BACKEND.build(spec), spec)
    k1, k2, k3 = (w[f"dense_{i}.kernel"] for i in (1, 2, 3))
    assert -0.5 <= k1.min() < -0.45 and 0.2 < k1.max() <= 0.25
    np.testing.assert_array_equal(w["dense_1.bias"], np.full(400, 0.3, np.float32))
    assert 0.0 <= k2.min() < 0.01 and 0.49 < k2.max() <= 0.5
    init = spec.ops[2].kernel_init
    assert init.low <= k3.min() and k3.max() <= init.high and abs(k3.mean() - init.mean) < 0.01
    assert abs(w["dense_3.bias"].mean() - 2.0) < 0.15 and abs(w["dense_3.bias"].std() - 0.5) < 0.1


# --- training ----------------------------------------------------------------------------------


def test_fit_trains_and_predict_reads_eval_outputs() -> None:
    from normspec.run.data import Dataset

    spec = normspec.load(
        "normspec: 1\nname: blobs\ninput: {shape: [2]}\nlayers:\n"
        "  - dense: {units: 16, activation: relu, norm: batch, dropout: 0.1}\n"
        "  - dense: {units: 3, activation: softmax}\n"
        "train: {loss: cross_entropy, optimizer: {kind: adam, learning_rate: 0.01}}\n"
    )
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = (np.eye(3)[y][:, :2] * 3 + rng.normal(0, 0.5, (600, 2))).astype(np.float32)
    data = Dataset("blobs", x[:500], y[:500], x[500:], y[500:])
    model, _ = built(spec)
    rng_state = torch.random.get_rng_state()
    epochs, batches = [], []
    BACKEND.fit(
        model, spec, data, epochs=3, batch_size=50, seed=1, optimizer=spec.train.optimizer,
        on_batch_end=batches.append, on_epoch_end=lambda e, m: epochs.append((e, m)),
    )  # fmt: skip
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert [e for e, _ in epochs] == [0, 1, 2] and batches[:3] == [0, 1, 2] and len(batches) == 30
    assert epochs[-1][1]["loss"] < epochs[0][1]["loss"] and epochs[-1][1]["accuracy"] > 0.8
    probabilities = BACKEND.predict(model, spec, data.x_val)
    assert probabilities.shape == (100, 3) and probabilities.dtype == np.float32
    assert np.mean(probabilities.argmax(1) == data.y_val) > 0.8
    np.testing.assert_array_equal(
        probabilities, BACKEND.forward(model, spec, data.x_val, train=False)["output"]
    )


def test_parity_forward_runs_without_tf32_and_restores_the_flags() -> None:
    from normspec.backends.torch.runtime import full_precision

    flags = (torch.backends.cuda.matmul, torch.backends.cudnn)
    before = [f.allow_tf32 for f in flags]
    torch.backends.cudnn.allow_tf32 = True
    try:
        with full_precision():
            assert not any(f.allow_tf32 for f in flags)
        assert torch.backends.cudnn.allow_tf32
    finally:
        for f, value in zip(flags, before, strict=True):
            f.allow_tf32 = value


SHIPPED = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))


JIT_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)  # deprecated in torch 2.13, still what some users deploy with


@JIT_DEPRECATED
@pytest.mark.parametrize("case", list(CASE_OF))
def test_torch_jit_script_compiles_every_op_and_matches_eager(case: str) -> None:
    """Helpers avoid what TorchScript cannot compile (``super().forward``, ``*args``)."""
    import torch

    spec = CASE_OF[case].spec
    model = built(spec)[0].eval()
    scripted = torch.jit.script(model)
    x = torch.from_numpy(
        np.random.default_rng(0).normal(size=(2, *spec.input.shape)).astype(np.float32)
    )
    x = x.permute(0, x.ndim - 1, *range(1, x.ndim - 1)) if x.ndim > 2 else x
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))


@JIT_DEPRECATED
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_torch_jit_script_compiles_every_shipped_spec(path: Path) -> None:
    import torch

    torch.jit.script(BACKEND.build(normspec.load(path)))


@pytest.mark.parametrize("name", ["mlp", "digits_bn_dropout", "resnet18_preact"])
def test_torch_export_traces_the_generated_model(name: str) -> None:
    import torch

    spec = normspec.load(Path(__file__).parents[2] / "specs" / f"{name}.yaml")
    model = built(spec)[0].eval()  # input statistics set, as after adapt() or loading weights
    shape = spec.input.shape
    x = torch.zeros(2, shape[-1], *shape[:-1]) if len(shape) > 1 else torch.zeros(2, *shape)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.equal(exported.module()(x), model(x))
