"""The parity table: one small spec per op and option of the IR.

Adding an op means adding rows here; ``test_every_op_has_a_parity_case`` fails until then.
Sizes include even and odd spatial extents: odd sizes hide the strided-'same' padding difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import normspec
from normspec import reference
from normspec.ir.graph import CanonicalSpec
from normspec.parity import TOLERANCE, error, parity_weights

IMG_EVEN = "[8, 8, 3]"
IMG_ODD = "[7, 7, 3]"
SEQ = "[9, 4]"
FLAT = "[6]"

# (case id, input shape, layers yaml, extra top-level yaml)
CASES: list[tuple[str, str, str, str]] = [
    ("dense", FLAT, "- dense: {units: 4, bias_init: torch_default}", ""),
    ("dense_no_bias", FLAT, "- dense: {units: 4, use_bias: false}", ""),
    ("conv2d_valid", IMG_EVEN, "- conv2d: {filters: 4, bias_init: torch_default}", ""),
    ("conv2d_same_s2_even", IMG_EVEN, "- conv2d: {filters: 4, strides: 2, padding: same}", ""),
    ("conv2d_same_s2_odd", IMG_ODD, "- conv2d: {filters: 4, strides: 2, padding: same}", ""),
    ("conv2d_same_even_kernel", IMG_EVEN, "- conv2d: {filters: 2, kernel: 2, padding: same}", ""),
    ("conv2d_asym_pad", IMG_ODD, "- conv2d: {filters: 2, padding: [[0, 2], [1, 0]]}", ""),
    ("conv2d_dilation", IMG_EVEN, "- conv2d: {filters: 2, dilation: 2, padding: same}", ""),
    ("conv2d_groups", "[8, 8, 4]", "- conv2d: {filters: 6, groups: 2, kernel: [3, 1]}", ""),
    ("conv2d_strided_dilated", IMG_ODD, "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", ""),
    ("conv1d_strided_dilated_same", SEQ, "- conv1d: {filters: 3, strides: 2, dilation: 2, padding: same}", ""),
    ("conv1d_same_s2", SEQ, "- conv1d: {filters: 3, strides: 2, padding: same}", ""),
    ("max_pool2d", IMG_EVEN, "- max_pool2d: 2", ""),
    ("max_pool2d_same_odd", IMG_ODD, "- max_pool2d: {pool: 3, strides: 2, padding: same}", ""),
    ("max_pool2d_same_even", IMG_EVEN, "- max_pool2d: {pool: 3, strides: 2, padding: same}", ""),
    ("max_pool1d", SEQ, "- max_pool1d: {pool: 2, strides: 1}", ""),
    ("avg_pool2d", IMG_EVEN, "- avg_pool2d: 2", ""),
    ("avg_pool2d_pad_exclude", IMG_EVEN, "- avg_pool2d: {pool: 3, strides: 1, padding: 1}", ""),
    ("avg_pool2d_pad_include", IMG_EVEN, "- avg_pool2d: {pool: 3, strides: 1, padding: 1, count_include_pad: true}", ""),
    ("avg_pool2d_same_s2_even", IMG_EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: same}", ""),
    ("avg_pool1d_same", SEQ, "- avg_pool1d: {pool: 2, padding: same}", ""),
    ("global_avg_pool", IMG_ODD, "- global_avg_pool", ""),
    ("global_max_pool", SEQ, "- global_max_pool", ""),
    ("flatten_dense", IMG_ODD, "- conv2d: 2\n- flatten\n- dense: 3", ""),
    ("reshape", IMG_EVEN, "- reshape: [16, 12]\n- conv1d: 2", ""),
    ("dropout", FLAT, "- dense: {units: 4, dropout: 0.3}", ""),
    ("relu", FLAT, "- activation: relu", ""),
    ("elu", FLAT, "- activation: {function: elu, alpha: 0.7}", ""),
    ("selu", FLAT, "- activation: selu", ""),
    ("gelu_exact", FLAT, "- activation: gelu", ""),
    ("gelu_tanh", FLAT, "- activation: {function: gelu, approximate: tanh}", ""),
    ("leaky_relu", FLAT, "- activation: {function: leaky_relu, negative_slope: 0.2}", ""),
    ("silu", FLAT, "- activation: silu", ""),
    ("tanh", FLAT, "- activation: tanh", ""),
    ("sigmoid", FLAT, "- activation: sigmoid", ""),
    ("softmax", IMG_ODD, "- activation: softmax", ""),
    ("softmax_seq", SEQ, "- activation: softmax", ""),
    ("batch_norm_unbiased", IMG_EVEN, "- batch_norm: {momentum: 0.2, epsilon: 0.01}", ""),
    ("batch_norm_biased", IMG_ODD, "- batch_norm: {running_var: biased, epsilon: 0.001}", ""),
    ("batch_norm_flat", FLAT, "- batch_norm: {epsilon: 0.1}", ""),
    ("batch_norm_no_center", SEQ, "- batch_norm: {center: false}", ""),
    ("batch_norm_no_scale", IMG_EVEN, "- batch_norm: {scale: false}", ""),
    ("layer_norm", IMG_EVEN, "- layer_norm: {epsilon: 0.001}", ""),
    ("layer_norm_flat", FLAT, "- layer_norm: {center: false, epsilon: 0.1}", ""),
    ("group_norm", "[8, 8, 4]", "- group_norm: {groups: 2, epsilon: 0.01}", ""),
    ("instance_norm", IMG_ODD, "- instance_norm", ""),
    ("rms_norm", IMG_EVEN, "- rms_norm: {epsilon: 0.0001}", ""),
    ("rms_norm_flat", FLAT, "- rms_norm: {scale: false}", ""),
    ("standardize", IMG_EVEN, "- flatten", "normalize: standardize"),
    ("standardize_fixed", FLAT, "- dense: 2", "normalize: {kind: fixed, mean: 1.5, std: 2.0}"),
    ("rescale", IMG_EVEN, "- conv2d: 2", "normalize: {kind: rescale, scale: 0.5, offset: -1.0}"),
    ("residual_post", IMG_EVEN, "- residual_block: {filters: 4, strides: 2}", ""),
    ("residual_pre", IMG_ODD, "- residual_block: {filters: 4, strides: 2, style: pre}", ""),
    ("residual_empty_body", FLAT, "- residual: {body: [{activation: linear}]}\n- dense: 2", ""),
    ("residual_identity", IMG_EVEN, "- residual: {body: [{conv2d: {filters: 3, padding: same, activation: relu}}]}", ""),
]  # fmt: skip


def make_spec(
    shape: str, layers: str, normalize: str = "none", dtype: str = "float32", name: str = "case"
) -> CanonicalSpec:
    """A one-input spec: ``layers`` is the YAML of the layer list, one item per line."""
    body = "\n".join("  " + line for line in layers.splitlines())
    return normspec.load(
        f"normspec: 1\nname: {name}\ninput: {{shape: {shape}, dtype: {dtype}, "
        f"normalize: {normalize}}}\nlayers:\n{body}\n"
    )


def case_spec(shape: str, layers: str, extra: str) -> CanonicalSpec:
    normalize = extra.removeprefix("normalize:").strip() if extra else "none"
    return make_spec(shape, layers, normalize)


SPEC_OF = {case_id: case_spec(*rest) for case_id, *rest in CASES}


def max_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference relative to the output scale, as ``normspec compare`` measures it."""
    return error(actual, expected)[1]


def check_against_reference(backend: Any, spec: CanonicalSpec, seed: int = 1) -> None:
    """Eval mode (running statistics), then train mode (batch statistics, dropout off): every
    top-level output, in the spec's dtype, and the updated running statistics match the numpy
    reference, within :data:`normspec.parity.TOLERANCE`."""
    weights = parity_weights(spec, seed=seed)
    model = backend.build(spec)
    backend.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 3, seed=2)
    tol = TOLERANCE[spec.input.dtype]
    for train in (False, True):
        expected, new_weights = reference.forward(spec, weights, x, train=train)
        outputs = backend.forward(model, spec, x, train=train)
        assert set(outputs) == set(expected)
        for name, value in expected.items():
            assert outputs[name].dtype == np.dtype(spec.input.dtype)
            assert max_error(outputs[name], value) <= tol, (name, train)
        if train:
            after = backend.get_weights(model, spec)
            for key, value in new_weights.items():
                assert max_error(after[key], value) <= tol, key
