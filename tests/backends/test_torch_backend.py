"""The PyTorch backend: emitted source, parity with the numpy reference for every op and option
(eval and train mode, float32 and float64), weights, training steps, fit and predict."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.errors import SpecError
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.parity import parity_weights, with_dtype
from parity_cases import SPEC_OF as PARITY_SPECS
from parity_cases import check_against_reference, make_spec, max_error

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from normspec.backends.torch import BACKEND  # noqa: E402
from normspec.backends.torch.emitter import EMITTERS  # noqa: E402
from normspec.backends.torch.module import MODULE_ATTRIBUTES, class_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
EVEN, ODD, EVEN4 = "[8, 8, 3]", "[7, 7, 3]", "[8, 8, 4]"  # even and odd spatial sizes
SEQ, SEQ_EVEN, FLAT = "[9, 4]", "[10, 4]", "[6]"

# (case id, input shape, layers, input normalization, a snippet the emitted source must hold)
CASES = [
    ("dense", FLAT, "- dense: {units: 4, bias_init: torch_default}", "none", "nn.Linear(6, 4, bias=True"),
    ("dense_no_bias", FLAT, "- dense: {units: 4, use_bias: false}", "none", "nn.Linear(6, 4, bias=False"),
    ("conv2d_valid", EVEN, "- conv2d: {filters: 4, bias_init: torch_default}", "none", "stride=1, padding=0"),
    ("conv2d_same_odd", ODD, "- conv2d: {filters: 4, padding: same}", "none", "padding=1"),
    ("conv2d_same_s2_even", EVEN, "- conv2d: {filters: 4, strides: 2, padding: same}", "none", "pad=(0, 1, 0, 1)"),
    ("conv2d_same_s2_odd", ODD, "- conv2d: {filters: 4, strides: 2, padding: same}", "none", "stride=2, padding=1"),
    ("conv2d_pad1_s2_even", EVEN, "- conv2d: {filters: 4, strides: 2, padding: 1}", "none", "stride=2, padding=1"),
    ("conv2d_asym_pad", ODD, "- conv2d: {filters: 2, padding: [[0, 2], [1, 0]]}", "none", "pad=(1, 0, 0, 2)"),
    ("conv2d_even_kernel_same", EVEN, "- conv2d: {filters: 2, kernel: 2, padding: same}", "none", "PaddedConv2d("),
    ("conv2d_dilation", EVEN, "- conv2d: {filters: 2, dilation: 2, padding: same}", "none", "dilation=2"),
    ("conv2d_strided_dilated", ODD, "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", "none", "dilation=2"),
    ("conv2d_groups", EVEN4, "- conv2d: {filters: 6, groups: 2, kernel: [3, 1]}", "none", "kernel_size=(3, 1)"),
    ("conv1d_same_s2", SEQ_EVEN, "- conv1d: {filters: 3, strides: 2, padding: same}", "none", "PaddedConv1d("),
    ("conv1d_asym_pad", SEQ, "- conv1d: {filters: 3, padding: [[2, 0]]}", "none", "pad=(2, 0)"),
    ("max_pool2d", EVEN, "- max_pool2d: 2", "none", "nn.MaxPool2d(kernel_size=2, stride=2, padding=0)"),
    ("max_pool2d_same_even", EVEN, "- max_pool2d: {pool: 3, strides: 2, padding: same}", "none", "PaddedMaxPool2d("),
    ("max_pool2d_same_odd", ODD, "- max_pool2d: {pool: 3, strides: 2, padding: same}", "none", "stride=2, padding=1"),
    ("max_pool2d_pad_odd", ODD, "- max_pool2d: {pool: 2, strides: 1, padding: 1}", "none", "nn.MaxPool2d("),
    ("max_pool2d_wide_pad", EVEN, "- max_pool2d: {pool: 3, strides: 1, padding: 2}", "none", "pad=(2, 2, 2, 2)"),
    ("max_pool1d_pad", SEQ, "- max_pool1d: {pool: 2, strides: 1, padding: 1}", "none", "nn.MaxPool1d("),
    ("avg_pool2d", EVEN, "- avg_pool2d: 2", "none", "nn.AvgPool2d("),
    ("avg_pool2d_pad_exclude", EVEN, "- avg_pool2d: {pool: 3, strides: 1, padding: 1}", "none", "padding=1, count_include_pad=False"),
    ("avg_pool2d_pad_include", ODD, "- avg_pool2d: {pool: 3, strides: 2, padding: 1, count_include_pad: true}", "none", "count_include_pad=True"),
    ("avg_pool2d_same_exclude", EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: same}", "none", "PaddedAvgPool2d("),
    ("avg_pool2d_same_include", EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: same, count_include_pad: true}", "none", "PaddedAvgPool2d("),
    ("avg_pool2d_wide_exclude", ODD, "- avg_pool2d: {pool: 3, strides: 1, padding: 2}", "none", "pad=(2, 2, 2, 2)"),
    ("avg_pool1d_same", SEQ_EVEN, "- avg_pool1d: {pool: 3, strides: 2, padding: same}", "none", "PaddedAvgPool1d("),
    ("global_avg_pool2d", ODD, "- global_avg_pool", "none", "GlobalAvgPool()"),
    ("global_max_pool2d", EVEN, "- global_max_pool", "none", "GlobalMaxPool()"),
    ("global_avg_pool1d", SEQ, "- global_avg_pool", "none", "GlobalAvgPool()"),
    ("global_max_pool1d", SEQ, "- global_max_pool", "none", "GlobalMaxPool()"),
    ("flatten_dense", ODD, "- conv2d: 2\n- flatten\n- dense: 3", "none", "Flatten()"),
    ("flatten_seq", SEQ, "- flatten\n- dense: 3", "none", "x.movedim(1, -1)"),
    ("reshape", EVEN, "- reshape: [16, 12]\n- conv1d: 2", "none", "Reshape((16, 12))"),
    ("reshape_from_flat", "[12]", "- reshape: [2, 2, 3]\n- conv2d: {filters: 2, kernel: 2}", "none", "Reshape((2, 2, 3))"),
    ("dropout", FLAT, "- dense: {units: 4, dropout: 0.5}", "none", "nn.Dropout(p=0.5)"),
    ("relu", FLAT, "- activation: relu", "none", "nn.ReLU()"),
    ("elu", FLAT, "- activation: {function: elu, alpha: 0.7}", "none", "nn.ELU(alpha=0.7)"),
    ("selu", FLAT, "- activation: selu", "none", "nn.SELU()"),
    ("gelu_exact", FLAT, "- activation: gelu", "none", 'nn.GELU(approximate="none")'),
    ("gelu_tanh", FLAT, "- activation: {function: gelu, approximate: tanh}", "none", 'nn.GELU(approximate="tanh")'),
    ("leaky_relu", FLAT, "- activation: {function: leaky_relu, negative_slope: 0.3}", "none", "nn.LeakyReLU(negative_slope=0.3)"),
    ("silu", FLAT, "- activation: silu", "none", "nn.SiLU()"),
    ("tanh", FLAT, "- activation: tanh", "none", "nn.Tanh()"),
    ("sigmoid", FLAT, "- activation: sigmoid", "none", "nn.Sigmoid()"),
    ("softmax", ODD, "- activation: softmax", "none", "nn.Softmax(dim=1)"),
    ("softmax_flat", FLAT, "- activation: softmax", "none", "nn.Softmax(dim=1)"),
    ("softmax_seq", SEQ, "- activation: softmax", "none", "nn.Softmax(dim=1)"),
    ("batch_norm_unbiased", EVEN, "- batch_norm: {momentum: 0.2, epsilon: 0.01}", "none", "nn.BatchNorm2d("),
    ("batch_norm_biased", ODD, "- batch_norm: {running_var: biased, epsilon: 0.001}", "none", "unbiased=False"),
    ("batch_norm_seq", SEQ, "- batch_norm: {momentum: 0.7}", "none", "nn.BatchNorm1d("),
    ("batch_norm_flat", FLAT, "- batch_norm", "none", "nn.BatchNorm1d("),
    ("batch_norm_flat_biased", FLAT, "- batch_norm: {running_var: biased, momentum: 0.3}", "none", "BatchNorm(\n"),
    ("batch_norm_no_center", SEQ, "- batch_norm: {center: false}", "none", "center=False"),
    ("batch_norm_no_scale", EVEN, "- batch_norm: {scale: false, running_var: biased}", "none", "scale=False"),
    ("batch_norm_no_affine", EVEN, "- batch_norm: {scale: false, center: false}", "none", "affine=False"),
    ("layer_norm", EVEN, "- layer_norm: {epsilon: 0.001}", "none", "ChannelLayerNorm("),
    ("layer_norm_flat", FLAT, "- layer_norm: {center: false, epsilon: 0.1}", "none", "bias=False"),
    ("layer_norm_flat_shift_only", FLAT, "- layer_norm: {scale: false}", "none", "ChannelLayerNorm("),
    ("layer_norm_seq_no_scale", SEQ, "- layer_norm: {scale: false}", "none", "scale=False"),
    ("group_norm", EVEN4, "- group_norm: {groups: 2, epsilon: 0.01}", "none", "nn.GroupNorm(2, 4"),
    ("group_norm_seq", "[9, 6]", "- group_norm: {groups: 3, center: false}", "none", "= GroupNorm("),
    ("instance_norm", ODD, "- instance_norm", "none", "nn.InstanceNorm2d("),
    ("instance_norm_seq", SEQ, "- instance_norm: {epsilon: 0.01}", "none", "nn.InstanceNorm1d("),
    ("instance_norm_no_scale", SEQ, "- instance_norm: {scale: false}", "none", "= GroupNorm("),
    ("rms_norm", EVEN, "- rms_norm: {epsilon: 0.0001}", "none", "ChannelRMSNorm("),
    ("rms_norm_flat", FLAT, "- rms_norm: {scale: false}", "none", "elementwise_affine=False"),
    ("standardize", EVEN, "- flatten", "standardize", "Standardize("),
    ("standardize_fixed", FLAT, "- dense: 2", "{kind: fixed, mean: 1.5, std: 2.0}", "std=(2.0, 2.0"),
    ("rescale", EVEN, "- conv2d: 2", "{kind: rescale, scale: 0.00392156862745098, offset: -0.1}", "offset=-0.1"),
    ("residual_post", EVEN, "- residual_block: {filters: 4, strides: 2}", "none", "x = out + shortcut"),
    ("residual_pre", ODD, "- residual_block: {filters: 4, strides: 2, style: pre}", "none", "x = out + shortcut"),
    ("residual_identity", EVEN, "- residual: {body: [{conv2d: {filters: 3, padding: same, activation: relu}}]}", "none", "x = out + x"),
    ("residual_nested", EVEN, "- residual: {body: [{residual_block: {filters: 3}}, {conv2d: {filters: 3, padding: 1}}]}\n- residual: {body: [{activation: tanh}]}", "none", "out = out2 + x"),
]  # fmt: skip


SPEC_OF = {case_id: make_spec(shape, layers, norm) for case_id, shape, layers, norm, _ in CASES}


def built(spec: CanonicalSpec, seed: int = 1):
    weights = parity_weights(spec, seed=seed)
    model = BACKEND.build(spec)
    BACKEND.set_weights(model, spec, weights)
    return model, weights


# --- emission ----------------------------------------------------------------------------------


def test_every_ir_op_has_an_emitter_and_a_case() -> None:
    assert set(EMITTERS) == set(ir.OP_CLASSES)
    covered = {type(site.op) for spec in SPEC_OF.values() for site in spec.walk()}
    assert covered == set(ir.OP_CLASSES)


@pytest.mark.parametrize(
    ("case", "snippet"), [(c[0], c[4]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_emitted_modules(case: str, snippet: str) -> None:
    """Each case takes the emission path it is meant to test."""
    assert snippet in BACKEND.emit(SPEC_OF[case])


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
    for case in ("conv2d_same_s2_even", "max_pool2d_wide_pad", "avg_pool1d_same", "layer_norm",
                 "batch_norm_no_scale", "group_norm_seq", "rms_norm", "residual_nested",
                 "reshape", "standardize"):  # fmt: skip
        for dtype in ("float32", "float64"):
            sources[f"{case}_{dtype}"] = BACKEND.emit(with_dtype(SPEC_OF[case], dtype))
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
                line.startswith(("import torch", "from torch ", "from typing ")) for line in imports
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
    spec = SPEC_OF["residual_post"]
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


# --- parity with the reference -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_parity_with_reference(case: str, dtype: str) -> None:
    check_against_reference(BACKEND, with_dtype(SPEC_OF[case], dtype))


def test_forward_restores_modes_and_disables_dropout_only_while_comparing() -> None:
    spec = SPEC_OF["dropout"]
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
            for op in spec.layers:  # the residuals' outputs come from the next module's input
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
    init = spec.layers[2].kernel_init
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


SCRIPTED_CASES = list(PARITY_SPECS)
SHIPPED = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))


JIT_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)  # deprecated in torch 2.13, still what some users deploy with


@JIT_DEPRECATED
@pytest.mark.parametrize("case", SCRIPTED_CASES)
def test_torch_jit_script_compiles_every_op_and_matches_eager(case: str) -> None:
    """Helpers avoid what TorchScript cannot compile (``super().forward``, ``*args``)."""
    import torch

    spec = PARITY_SPECS[case]
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
