"""Convolutions with strides > 1 and dilation > 1, which Keras' Conv layers refuse: the
emitted model pads, convolves at stride 1 with the dilation and subsamples, computing what the
numpy reference computes, in the op's output shape."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

import normspec
from normspec.cli import main
from normspec.parity import with_dtype
from parity_cases import check_against_reference, make_spec

pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from normspec.backends.keras import BACKEND  # noqa: E402

# (case id, input shape, layers, a snippet the emitted source must hold)
CASES = [
    ("conv2d_valid", "[9, 9, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2}", "Subsample("),
    ("conv2d_pad1_even", "[8, 8, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", "ZeroPadding2D("),
    ("conv2d_pad1_odd", "[7, 7, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", "ZeroPadding2D("),
    ("conv2d_same_even", "[8, 8, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: same}", "ZeroPadding2D("),
    ("conv2d_same_odd", "[9, 7, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: same}", "ZeroPadding2D("),
    ("conv2d_asym_pad", "[9, 8, 2]", "- conv2d: {filters: 3, kernel: [3, 2], strides: 2, dilation: 2, padding: [[0, 2], [1, 0]]}", "((0, 2), (1, 0))"),
    ("conv2d_other_axes", "[9, 9, 2]", "- conv2d: {filters: 2, strides: [2, 1], dilation: [1, 2], padding: same}", "strides=(2, 1)"),
    ("conv2d_s3_groups", "[11, 10, 4]", "- conv2d: {filters: 4, groups: 2, strides: [3, 2], dilation: 2, padding: 2}", "groups=2"),
    ("conv1d_valid", "[10, 4]", "- conv1d: {filters: 3, strides: 2, dilation: 2}", "Subsample("),
    ("conv1d_same_odd", "[9, 4]", "- conv1d: {filters: 3, strides: 2, dilation: 2, padding: same}", "ZeroPadding1D("),
    ("conv1d_pad", "[9, 4]", "- conv1d: {filters: 3, kernel: 2, strides: 2, dilation: 3, padding: [[2, 1]]}", "padding=(2, 1)"),
    ("conv1d_then_dense", "[12, 2]", "- conv1d: {filters: 2, strides: 3, dilation: 2, padding: 1}\n- flatten\n- dense: 2", "Subsample("),
]  # fmt: skip

SPEC_OF = {case: make_spec(shape, layers) for case, shape, layers, _ in CASES}


@pytest.mark.parametrize(("case", "snippet"), [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_the_dilated_convolution_runs_at_stride_1_then_is_subsampled(case: str, snippet: str) -> None:  # fmt: skip
    source = BACKEND.emit(SPEC_OF[case])
    assert snippet in source and "dilation_rate=" in source
    conv = source[source.index("layers.Conv") :]
    assert "strides=(1, 1)" in conv or "strides=(1,)" in conv


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_parity_with_reference(case: str, dtype: str) -> None:
    check_against_reference(BACKEND, with_dtype(SPEC_OF[case], dtype))


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_each_op_output_has_the_ir_shape(case: str) -> None:
    spec = SPEC_OF[case]
    model = BACKEND.build(spec)
    for op in spec.layers:
        layer = model.get_layer(f"{op.name}_subsample") if op.op.startswith("conv") else None
        if layer is not None:
            assert tuple(layer.output.shape) == (None, *op.shape), op.name
    assert tuple(model.output.shape) == (None, *spec.output_shape)


def test_normspec_build_writes_a_keras_module_for_it(tmp_path: Path) -> None:
    spec_path = tmp_path / "wide.yaml"
    spec_path.write_text(
        "normspec: 1\nname: wide\ninput: {shape: [16, 16, 3]}\nlayers:\n"
        "  - conv2d: {filters: 4, strides: 2, dilation: 2, padding: same}\n"
        "  - global_avg_pool\n"
    )
    out = tmp_path / "wide_keras.py"
    result = CliRunner().invoke(main, ["build", str(spec_path), "--backend", "keras", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    module_spec = importlib.util.spec_from_file_location("wide_keras", out)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    model = module.build_wide()
    assert tuple(model.output.shape) == (None, 4)
    assert normspec.load(spec_path).layers[0].shape == (8, 8, 4)
