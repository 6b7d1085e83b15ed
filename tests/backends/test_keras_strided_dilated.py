"""Convolutions with strides > 1 and dilation > 1, which Keras' Conv layers refuse: the
emitted model pads, convolves at stride 1 with the dilation and subsamples, computing what the
numpy reference computes, in the op's output shape."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

import normspec
from conformance_cases import CASES
from normspec.cli import main
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec

pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from normspec.backends.keras import BACKEND  # noqa: E402


def strided_and_dilated(spec: CanonicalSpec) -> bool:
    """Whether a convolution of ``spec`` has a stride > 1 and a dilation > 1."""
    return any(
        isinstance(site.op, ir.Conv1D | ir.Conv2D)
        and max(site.op.strides) > 1
        and max(site.op.dilation) > 1
        for site in spec.nodes
    )


SPEC_OF = {case.id: case.spec for case in CASES if strided_and_dilated(case.spec)}
"""The conformance cases (their parity with the reference is tested there) of this kind."""


def test_the_conformance_table_holds_such_cases() -> None:
    assert len(SPEC_OF) >= 12


@pytest.mark.parametrize("case", sorted(SPEC_OF))
def test_the_dilated_convolution_runs_at_stride_1_then_is_subsampled(case: str) -> None:
    source = BACKEND.emit(SPEC_OF[case])
    assert "dilation_rate=" in source and "Subsample(" in source
    conv = source[source.index("layers.Conv") :]
    assert "strides=(1, 1)" in conv or "strides=(1,)" in conv


@pytest.mark.parametrize("case", sorted(SPEC_OF))
def test_each_op_output_has_the_ir_shape(case: str) -> None:
    spec = SPEC_OF[case]
    model = BACKEND.build(spec)
    for op in spec.ops:
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
    assert normspec.load(spec_path).ops[0].shape == (8, 8, 4)
