"""The conformance table: one small spec per op and option of the IR, run by
``tests/test_conformance.py`` over every backend, mode (eval, train) and dtype (float32,
float64) against the numpy reference.

Each case declares its spec (input shape, layers, input normalization), the output shape the
spec must infer, optional per-dtype tolerances (default :data:`normspec.parity.TOLERANCE`), what
the emitted source of a backend must hold (the emission path the case is meant to test), and the
backends expected to fail on it, with the reason (run as strict xfails). Adding an op means
adding rows here, a printer and a weight map in each backend, and a row in the README's tables of
the spec language: ``test_every_op_has_a_printer_a_weight_map_a_case_and_a_readme_row`` fails
until then. Sizes include even and odd spatial extents: odd sizes hide the strided-'same' padding
difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from normspec.ir.graph import CanonicalSpec
from normspec.parity import TOLERANCE
from parity_cases import make_spec

BACKENDS = ("torch", "keras", "flax")
DTYPES = ("float32", "float64")
MODES = ("eval", "train")

EVEN, ODD, EVEN4 = "[8, 8, 3]", "[7, 7, 3]", "[8, 8, 4]"  # even and odd spatial sizes
SEQ, SEQ_EVEN, FLAT = "[9, 4]", "[10, 4]", "[6]"


@dataclass(frozen=True)
class Case:
    """One spec of the table and what every backend must do with it."""

    id: str
    shape: str  # the input shape, YAML
    layers: str  # the layer list, YAML, one item per line
    output: tuple[int, ...]  # the output shape the spec infers (no batch axis)
    normalize: str = "none"  # the input normalization, YAML
    emits: Mapping[str, str] = field(default_factory=dict)  # backend -> snippet of its source
    xfail: Mapping[str, str] = field(default_factory=dict)  # backend -> why it fails today
    tolerance: Mapping[str, float] = field(default_factory=dict)  # dtype -> largest error
    extra: str = ""  # more top-level YAML: an output section

    @cached_property
    def spec(self) -> CanonicalSpec:
        """The canonical spec, in float32."""
        return make_spec(self.shape, self.layers, self.normalize, extra=self.extra)

    def tol(self, dtype: str) -> float:
        return self.tolerance.get(dtype, TOLERANCE[dtype])


# fmt: off
CASES: list[Case] = [
    Case("dense", FLAT, "- dense: {units: 4, bias_init: torch_default}", (4,), emits={"torch": "nn.Linear(6, 4, bias=True", "keras": "layers.Dense(", "flax": "nnx.Linear("}),
    Case("dense_no_bias", FLAT, "- dense: {units: 4, use_bias: false}", (4,), emits={"torch": "nn.Linear(6, 4, bias=False", "keras": "use_bias=False", "flax": "use_bias=False"}),
    Case("conv2d_valid", EVEN, "- conv2d: {filters: 4, bias_init: torch_default}", (6, 6, 4), emits={"torch": "stride=1, padding=0", "keras": '"valid"', "flax": 'padding="VALID"'}),
    Case("conv2d_same_odd", ODD, "- conv2d: {filters: 4, padding: same}", (7, 7, 4), emits={"torch": "padding=1", "keras": '"same"', "flax": "padding=((1, 1), (1, 1))"}),
    Case("conv2d_same_s2_even", EVEN, "- conv2d: {filters: 4, strides: 2, padding: same}", (4, 4, 4), emits={"torch": "pad=(0, 1, 0, 1)", "keras": '"same"', "flax": "padding=((0, 1), (0, 1))"}),
    Case("conv2d_same_s2_odd", ODD, "- conv2d: {filters: 4, strides: 2, padding: same}", (4, 4, 4), emits={"torch": "stride=2, padding=1", "keras": '"same"', "flax": "padding=((1, 1), (1, 1))"}),
    Case("conv2d_pad1_s2_even", EVEN, "- conv2d: {filters: 4, strides: 2, padding: 1}", (4, 4, 4), emits={"torch": "stride=2, padding=1", "keras": "ZeroPadding2D(", "flax": "padding=((1, 1), (1, 1))"}),
    Case("conv2d_asym_pad", ODD, "- conv2d: {filters: 2, padding: [[0, 2], [1, 0]]}", (7, 6, 2), emits={"torch": "pad=(1, 0, 0, 2)", "keras": "((0, 2), (1, 0))", "flax": "padding=((0, 2), (1, 0))"}),
    Case("conv2d_even_kernel_same", EVEN, "- conv2d: {filters: 2, kernel: 2, padding: same}", (8, 8, 2), emits={"torch": "PaddedConv2d(", "keras": '"same"', "flax": "padding=((0, 1), (0, 1))"}),
    Case("conv2d_dilation", EVEN, "- conv2d: {filters: 2, dilation: 2, padding: same}", (8, 8, 2), emits={"torch": "dilation=2", "keras": "dilation_rate=(2, 2)", "flax": "kernel_dilation=(2, 2)"}),
    Case("conv2d_dilation_s2", EVEN, "- conv2d: {filters: 2, dilation: 2, strides: 2}", (2, 2, 2), emits={"flax": "kernel_dilation=(2, 2)"}),
    Case("conv2d_strided_dilated", ODD, "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", (3, 3, 2), emits={"torch": "dilation=2", "keras": "ZeroPadding2D("}),
    Case("conv2d_groups", EVEN4, "- conv2d: {filters: 6, groups: 2, kernel: [3, 1]}", (6, 8, 6), emits={"torch": "kernel_size=(3, 1)", "keras": "groups=2", "flax": "feature_group_count=2"}),
    Case("conv1d_strided_dilated_same", SEQ, "- conv1d: {filters: 3, strides: 2, dilation: 2, padding: same}", (5, 3), emits={"keras": "ZeroPadding1D("}),
    # Strides > 1 with dilation > 1, which Keras' Conv layers refuse: pad, convolve at stride 1, subsample.
    Case("strided_dilated_conv2d_valid", "[9, 9, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2}", (3, 3, 2), emits={"keras": "Subsample("}),
    Case("strided_dilated_conv2d_pad1_even", EVEN, "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: 1}", (3, 3, 2), emits={"keras": "ZeroPadding2D("}),
    Case("strided_dilated_conv2d_same_even", EVEN, "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: same}", (4, 4, 2), emits={"keras": "ZeroPadding2D("}),
    Case("strided_dilated_conv2d_same_odd", "[9, 7, 3]", "- conv2d: {filters: 2, strides: 2, dilation: 2, padding: same}", (5, 4, 2), emits={"keras": "ZeroPadding2D("}),
    Case("strided_dilated_conv2d_asym_pad", "[9, 8, 2]", "- conv2d: {filters: 3, kernel: [3, 2], strides: 2, dilation: 2, padding: [[0, 2], [1, 0]]}", (4, 4, 3), emits={"keras": "((0, 2), (1, 0))"}),
    Case("strided_dilated_conv2d_other_axes", "[9, 9, 2]", "- conv2d: {filters: 2, strides: [2, 1], dilation: [1, 2], padding: same}", (5, 9, 2), emits={"keras": "strides=(2, 1)"}),
    Case("strided_dilated_conv2d_s3_groups", "[11, 10, 4]", "- conv2d: {filters: 4, groups: 2, strides: [3, 2], dilation: 2, padding: 2}", (4, 5, 4), emits={"keras": "groups=2"}),
    Case("strided_dilated_conv1d_valid", SEQ_EVEN, "- conv1d: {filters: 3, strides: 2, dilation: 2}", (3, 3), emits={"keras": "Subsample("}),
    Case("strided_dilated_conv1d_pad", SEQ, "- conv1d: {filters: 3, kernel: 2, strides: 2, dilation: 3, padding: [[2, 1]]}", (5, 3), emits={"keras": "padding=(2, 1)"}),
    Case("strided_dilated_conv1d_then_dense", "[12, 2]", "- conv1d: {filters: 2, strides: 3, dilation: 2, padding: 1}\n- flatten\n- dense: 2", (2,), emits={"keras": "Subsample("}),
    Case("conv1d_same_s2_odd", SEQ, "- conv1d: {filters: 3, strides: 2, padding: same}", (5, 3)),
    Case("conv1d_same_s2_even", SEQ_EVEN, "- conv1d: {filters: 3, strides: 2, padding: same}", (5, 3), emits={"torch": "PaddedConv1d(", "keras": '"same"', "flax": "padding=((0, 1),)"}),
    Case("conv1d_asym_pad", SEQ, "- conv1d: {filters: 3, padding: [[2, 0]]}", (9, 3), emits={"torch": "pad=(2, 0)", "keras": "padding=(2, 0),", "flax": "padding=((2, 0),)"}),
    Case("max_pool2d", EVEN, "- max_pool2d: 2", (4, 4, 3), emits={"torch": "nn.MaxPool2d(kernel_size=2, stride=2, padding=0)", "keras": "MaxPooling2D(", "flax": "strides=(2, 2)"}),
    Case("max_pool2d_same_even", EVEN, "- max_pool2d: {pool: 3, strides: 2, padding: same}", (4, 4, 3), emits={"torch": "PaddedMaxPool2d(", "keras": '"same"', "flax": "nnx.max_pool("}),
    Case("max_pool1d", SEQ, "- max_pool1d: {pool: 2, strides: 1}", (8, 4)),
    Case("max_pool2d_same_odd", ODD, "- max_pool2d: {pool: 3, strides: 2, padding: same}", (4, 4, 3), emits={"torch": "stride=2, padding=1"}),
    Case("max_pool2d_pad_odd", ODD, "- max_pool2d: {pool: 2, strides: 1, padding: 1}", (8, 8, 3), emits={"torch": "nn.MaxPool2d(", "keras": "NegativeInfinityPadding(", "flax": "padding=((1, 1), (1, 1))"}),
    Case("max_pool1d_pad_s2", SEQ, "- max_pool1d: {pool: 3, strides: 2, padding: 1}", (5, 4), emits={"flax": "window_shape=(3,)"}),
    Case("max_pool2d_wide_pad", EVEN, "- max_pool2d: {pool: 3, strides: 1, padding: 2}", (10, 10, 3), emits={"torch": "pad=(2, 2, 2, 2)"}),
    Case("max_pool1d_pad", SEQ, "- max_pool1d: {pool: 2, strides: 1, padding: 1}", (10, 4), emits={"torch": "nn.MaxPool1d(", "keras": "NegativeInfinityPadding("}),
    Case("avg_pool2d", EVEN, "- avg_pool2d: 2", (4, 4, 3), emits={"torch": "nn.AvgPool2d(", "keras": "AveragePooling2D(", "flax": "nnx.avg_pool("}),
    Case("avg_pool2d_pad_exclude", EVEN, "- avg_pool2d: {pool: 3, strides: 1, padding: 1}", (8, 8, 3), emits={"torch": "padding=1, count_include_pad=False"}),
    Case("avg_pool2d_pad_include_s1", EVEN, "- avg_pool2d: {pool: 3, strides: 1, padding: 1, count_include_pad: true}", (8, 8, 3)),
    Case("avg_pool2d_pad_include", ODD, "- avg_pool2d: {pool: 3, strides: 2, padding: 1, count_include_pad: true}", (4, 4, 3), emits={"torch": "count_include_pad=True", "keras": "ZeroPadding2D(", "flax": "count_include_pad=True"}),
    Case("avg_pool1d_pad_exclude", SEQ_EVEN, "- avg_pool1d: {pool: 3, strides: 2, padding: 1}", (5, 4), emits={"keras": "AveragePoolingExcludingPadding(", "flax": "count_include_pad=False"}),
    Case("avg_pool2d_same_exclude", EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: same}", (4, 4, 3), emits={"torch": "PaddedAvgPool2d(", "keras": '"same"', "flax": ".astype(DTYPE)"}),
    Case("avg_pool1d_same", SEQ, "- avg_pool1d: {pool: 2, padding: same}", (5, 4)),
    Case("avg_pool2d_same_include", EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: same, count_include_pad: true}", (4, 4, 3), emits={"torch": "PaddedAvgPool2d(", "keras": "ZeroPadding2D(", "flax": "count_include_pad=True"}),
    Case("avg_pool2d_pad_exclude_s2", EVEN, "- avg_pool2d: {pool: 3, strides: 2, padding: 1}", (4, 4, 3), emits={"keras": "AveragePoolingExcludingPadding(", "flax": "count_include_pad=False"}),
    Case("avg_pool2d_wide_exclude", ODD, "- avg_pool2d: {pool: 3, strides: 1, padding: 2}", (9, 9, 3), emits={"torch": "pad=(2, 2, 2, 2)"}),
    Case("avg_pool1d_same_s2", SEQ_EVEN, "- avg_pool1d: {pool: 3, strides: 2, padding: same}", (5, 4), emits={"torch": "PaddedAvgPool1d("}),
    Case("global_avg_pool2d", ODD, "- global_avg_pool", (3,), emits={"torch": "GlobalAvgPool()", "keras": "GlobalAveragePooling2D(", "flax": "jnp.mean(x, axis=(1, 2))"}),
    Case("global_max_pool2d", EVEN, "- global_max_pool", (3,), emits={"torch": "GlobalMaxPool()", "keras": "GlobalMaxPooling2D(", "flax": "jnp.max(x, axis=(1, 2))"}),
    Case("global_avg_pool1d", SEQ, "- global_avg_pool", (4,), emits={"torch": "GlobalAvgPool()", "keras": "GlobalAveragePooling1D(", "flax": "jnp.mean(x, axis=1)"}),
    Case("global_max_pool1d", SEQ, "- global_max_pool", (4,), emits={"torch": "GlobalMaxPool()", "keras": "GlobalMaxPooling1D(", "flax": "jnp.max(x, axis=1)"}),
    Case("flatten_dense", ODD, "- conv2d: 2\n- flatten\n- dense: 3", (3,), emits={"torch": "Flatten()", "keras": "layers.Flatten(", "flax": "x.reshape(x.shape[0], -1)"}),
    Case("flatten_seq", SEQ, "- flatten\n- dense: 3", (3,), emits={"torch": "x.movedim(1, -1)"}),
    Case("reshape", EVEN, "- reshape: [16, 12]\n- conv1d: 2", (14, 2), emits={"torch": "Reshape((16, 12))", "keras": "target_shape=(16, 12)", "flax": "x.reshape(x.shape[0], 16, 12)"}),
    Case("reshape_from_flat", "[12]", "- reshape: [2, 2, 3]\n- conv2d: {filters: 2, kernel: 2}", (1, 1, 2), emits={"torch": "Reshape((2, 2, 3))"}),
    Case("dropout_rate_03", FLAT, "- dense: {units: 4, dropout: 0.3}", (4,)),
    Case("dropout", FLAT, "- dense: {units: 4, dropout: 0.5}", (4,), emits={"torch": "nn.Dropout(p=0.5)", "keras": "rate=0.5", "flax": "nnx.Dropout(0.5, deterministic=False"}),
    Case("relu", FLAT, "- activation: relu", (6,), emits={"torch": "nn.ReLU()", "keras": '"relu"', "flax": "nnx.relu(x)"}),
    Case("elu", FLAT, "- activation: {function: elu, alpha: 0.7}", (6,), emits={"torch": "nn.ELU(alpha=0.7)", "keras": "alpha=0.7", "flax": "alpha=0.7"}),
    Case("selu", FLAT, "- activation: selu", (6,), emits={"torch": "nn.SELU()", "keras": '"selu"', "flax": "nnx.selu(x)"}),
    Case("gelu_exact", FLAT, "- activation: gelu", (6,), emits={"torch": 'nn.GELU(approximate="none")', "keras": "approximate=False", "flax": "approximate=False"}),
    Case("gelu_tanh", FLAT, "- activation: {function: gelu, approximate: tanh}", (6,), emits={"torch": 'nn.GELU(approximate="tanh")', "keras": "approximate=True", "flax": "approximate=True"}),
    Case("leaky_relu", FLAT, "- activation: {function: leaky_relu, negative_slope: 0.2}", (6,), emits={"keras": "negative_slope=0.2", "flax": "negative_slope=0.2"}),
    Case("leaky_relu_03", FLAT, "- activation: {function: leaky_relu, negative_slope: 0.3}", (6,), emits={"torch": "nn.LeakyReLU(negative_slope=0.3)"}),
    Case("relu6", FLAT, "- activation: relu6", (6,), normalize="{kind: rescale, scale: 10.0}", emits={"torch": "nn.ReLU6()", "keras": "layers.ReLU(max_value=6.0", "flax": "nnx.relu6(x)"}),
    Case("hard_swish", FLAT, "- activation: hard_swish", (6,), normalize="{kind: rescale, scale: 3.0}", emits={"torch": "nn.Hardswish()", "keras": '"hard_swish"', "flax": "nnx.hard_swish(x)"}),
    Case("silu", FLAT, "- activation: silu", (6,), emits={"torch": "nn.SiLU()", "keras": '"silu"', "flax": "nnx.silu(x)"}),
    Case("tanh", FLAT, "- activation: tanh", (6,), emits={"torch": "nn.Tanh()", "keras": '"tanh"', "flax": "nnx.tanh(x)"}),
    Case("sigmoid", FLAT, "- activation: sigmoid", (6,), emits={"torch": "nn.Sigmoid()", "keras": '"sigmoid"', "flax": "nnx.sigmoid(x)"}),
    Case("softmax", ODD, "- activation: softmax", (7, 7, 3), emits={"torch": "nn.Softmax(dim=1)", "keras": "axis=-1", "flax": "axis=-1"}),
    Case("softmax_flat", FLAT, "- activation: softmax", (6,), emits={"torch": "nn.Softmax(dim=1)"}),
    Case("softmax_seq", SEQ, "- activation: softmax", (9, 4), emits={"torch": "nn.Softmax(dim=1)"}),
    Case("logits_softmax", FLAT, "- dense: {units: 4, norm: batch}\n- dense: {units: 3, activation: softmax}", (3,), extra="output: {logits: true}", emits={"torch": "def probabilities(", "keras": "def probability_model(", "flax": "def probabilities("}),
    Case("logits_sigmoid", SEQ, "- conv1d: 2\n- activation: sigmoid", (7, 2), extra="output: {logits: true}", emits={"torch": "x = self.activation_1(x)", "keras": '"sigmoid", name="activation_1"', "flax": "x = self(x)"}),
    Case("batch_norm_unbiased_default_eps", EVEN, "- batch_norm: {momentum: 0.2}", (8, 8, 3), emits={"keras": "BatchNormUnbiased(", "flax": "UnbiasedBatchNorm("}),
    Case("batch_norm_unbiased", EVEN, "- batch_norm: {momentum: 0.2, epsilon: 0.01}", (8, 8, 3), emits={"torch": "nn.BatchNorm2d("}),
    Case("batch_norm_biased", ODD, "- batch_norm: {running_var: biased, epsilon: 0.001}", (7, 7, 3), emits={"torch": "unbiased=False", "keras": "layers.BatchNormalization(", "flax": "use_fast_variance=False"}),
    Case("batch_norm_flat_eps", FLAT, "- batch_norm: {epsilon: 0.1}", (6,)),
    Case("batch_norm_momentum", SEQ, "- batch_norm: {momentum: 0.7}", (9, 4), emits={"torch": "nn.BatchNorm1d(", "keras": "momentum=0.3,", "flax": "momentum=0.3,"}),
    Case("batch_norm_flat", FLAT, "- batch_norm", (6,), emits={"torch": "nn.BatchNorm1d(", "keras": "momentum=0.9,", "flax": "momentum=0.9,"}),
    Case("batch_norm_flat_biased", FLAT, "- batch_norm: {running_var: biased, momentum: 0.3}", (6,), emits={"torch": "BatchNorm(\n"}),
    Case("batch_norm_no_center", SEQ, "- batch_norm: {center: false}", (9, 4), emits={"torch": "center=False", "keras": "center=False", "flax": "use_bias=False"}),
    Case("batch_norm_no_scale_unbiased", EVEN, "- batch_norm: {scale: false}", (8, 8, 3)),
    Case("batch_norm_no_scale", EVEN, "- batch_norm: {scale: false, running_var: biased}", (8, 8, 3), emits={"torch": "scale=False", "keras": "scale=False", "flax": "use_scale=False"}),
    Case("batch_norm_no_affine", EVEN, "- batch_norm: {scale: false, center: false}", (8, 8, 3), emits={"torch": "affine=False"}),
    Case("layer_norm", EVEN, "- layer_norm: {epsilon: 0.001}", (8, 8, 3), emits={"torch": "ChannelLayerNorm(", "keras": "LayerNormalization(", "flax": "nnx.LayerNorm("}),
    Case("layer_norm_flat_default_eps", FLAT, "- layer_norm: {center: false}", (6,), emits={"keras": "center=False", "flax": "use_bias=False"}),
    Case("layer_norm_flat", FLAT, "- layer_norm: {center: false, epsilon: 0.1}", (6,), emits={"torch": "bias=False"}),
    Case("layer_norm_flat_shift_only", FLAT, "- layer_norm: {scale: false}", (6,), emits={"torch": "ChannelLayerNorm("}),
    Case("layer_norm_no_scale", SEQ, "- layer_norm: {scale: false}", (9, 4), emits={"torch": "scale=False", "keras": "scale=False", "flax": "use_scale=False"}),
    Case("group_norm_default_eps", EVEN4, "- group_norm: {groups: 2}", (8, 8, 4), emits={"keras": "groups=2", "flax": "num_groups=2"}),
    Case("group_norm", EVEN4, "- group_norm: {groups: 2, epsilon: 0.01}", (8, 8, 4), emits={"torch": "nn.GroupNorm(2, 4"}),
    Case("group_norm_seq", "[9, 6]", "- group_norm: {groups: 3, center: false}", (9, 6), emits={"torch": "= GroupNorm(", "keras": "groups=3", "flax": "num_groups=3"}),
    Case("instance_norm", ODD, "- instance_norm", (7, 7, 3), emits={"torch": "nn.InstanceNorm2d(", "keras": "groups=3", "flax": "nnx.InstanceNorm("}),
    Case("instance_norm_seq_eps", SEQ, "- instance_norm: {epsilon: 0.01}", (9, 4), emits={"torch": "nn.InstanceNorm1d("}),
    Case("instance_norm_seq_no_scale", SEQ, "- instance_norm: {scale: false}", (9, 4), emits={"torch": "= GroupNorm(", "keras": "groups=4", "flax": "use_scale=False"}),
    Case("rms_norm", EVEN, "- rms_norm: {epsilon: 0.0001}", (8, 8, 3), emits={"torch": "ChannelRMSNorm(", "keras": "RMSNormalization(", "flax": "nnx.RMSNorm("}),
    Case("rms_norm_flat", FLAT, "- rms_norm: {scale: false}", (6,), emits={"torch": "elementwise_affine=False", "keras": "UnscaledRMSNormalization(", "flax": "use_scale=False"}),
    Case("standardize", EVEN, "- flatten", (192,), normalize="standardize", emits={"torch": "Standardize(", "keras": "Standardize(", "flax": "Standardize("}),
    Case("standardize_fixed", FLAT, "- dense: 2", (2,), normalize="{kind: fixed, mean: 1.5, std: 2.0}", emits={"torch": "std=(2.0, 2.0", "keras": "std=(2.0, 2.0", "flax": "std=(2.0, 2.0"}),
    Case("rescale", EVEN, "- conv2d: 2", (6, 6, 2), normalize="{kind: rescale, scale: 0.5, offset: -1.0}", emits={"flax": "x * 0.5 - 1.0"}),
    Case("rescale_1_255", EVEN, "- conv2d: 2", (6, 6, 2), normalize="{kind: rescale, scale: 0.00392156862745098, offset: -0.1}", emits={"torch": "offset=-0.1", "keras": "offset=-0.1"}),
    Case("residual_post", EVEN, "- residual_block: {filters: 4, strides: 2}", (4, 4, 4), emits={"torch": "x = out + shortcut", "keras": "layers.Add(", "flax": "body + shortcut"}),
    Case("residual_pre", ODD, "- residual_block: {filters: 4, strides: 2, style: pre}", (4, 4, 4), emits={"torch": "x = out + shortcut", "keras": "layers.Add(", "flax": "body + shortcut"}),
    Case("join_by_name", EVEN, "- conv2d: {filters: 3, padding: same, name: c1}\n- conv2d: {filters: 3, kernel: 1, name: c2, inputs: input}\n- add: [c1, c2, input]", (8, 8, 3), emits={"torch": "x = c1_out + x + inputs", "keras": "[c1_out, x, inputs]", "flax": "x = c1_out + x + inputs"}),
    Case("multiply_gate", EVEN, "- conv2d: {filters: 4, padding: same, name: c, activation: relu}\n- global_avg_pool\n- dense: {units: 4, activation: sigmoid, name: g}\n- multiply: [c, g]", (8, 8, 4), emits={"torch": "x = c_relu_out * x[:, :, None, None]", "keras": "layers.Multiply(", "flax": "x = c_relu_out * x[:, None, None, :]"}),
    Case("multiply_same_shape", SEQ, "- conv1d: {filters: 4, padding: same, name: a}\n- conv1d: {filters: 4, kernel: 1, name: b, inputs: input, activation: tanh}\n- multiply: [a, b]", (9, 4)),
    Case("concat_channels", ODD, "- conv2d: {filters: 2, padding: same, name: a}\n- conv2d: {filters: 3, kernel: 1, name: b, inputs: input}\n- concat: [a, b, input]", (7, 7, 8), emits={"torch": "torch.cat([a_out, x, inputs], dim=1)", "keras": "layers.Concatenate(axis=-1", "flax": "jnp.concatenate([a_out, x, inputs], axis=-1)"}),
    Case("concat_flat", FLAT, "- dense: {units: 3, name: a}\n- dense: {units: 2, name: b, inputs: input}\n- concat: [a, b]\n- dense: 2", (2,)),
    Case("residual_empty_body", FLAT, "- residual: {body: [{activation: linear}]}\n- dense: 2", (2,)),
    Case("residual_identity", EVEN, "- residual: {body: [{conv2d: {filters: 3, padding: same, activation: relu}}]}", (8, 8, 3), emits={"torch": "x = out + x", "keras": "[body, x]", "flax": "body + x"}),
    Case("residual_nested", EVEN, "- residual: {body: [{residual_block: {filters: 3}}, {conv2d: {filters: 3, padding: 1}}]}", (8, 8, 3), emits={"keras": "[body2, x]", "flax": "body = body2 + x"}),
    Case("residual_nested_then_tanh", EVEN, "- residual: {body: [{residual_block: {filters: 3}}, {conv2d: {filters: 3, padding: 1}}]}\n- residual: {body: [{activation: tanh}]}", (8, 8, 3), emits={"torch": "out = out2 + x"}),
    Case("blocks_sized_by_a_parameter", EVEN4, "- residual: {body: [{conv2d: {filters: 4, padding: 1}}, {dropout: 0.2}]}\n- residual: {body: [{conv2d: {filters: 4, padding: 1}}, {dropout: 0.3}]}", (8, 8, 4), emits={"torch": "Residual(p=0.3, dtype=dtype)", "keras": 'residual(x, rate=0.3, name="residual_2")', "flax": "Residual(rate=0.3, rngs=rngs, precision=precision)"}),
    Case("join_across_blocks", EVEN, "- conv2d: {filters: 4, padding: 1}\n- residual_block: {filters: 4}\n- residual_block: {filters: 4}\n- add: [residual_block_2, conv2d_1]", (8, 8, 4), emits={"torch": "x = x + conv2d_1_out", "keras": "[x, conv2d_1_out]", "flax": "x = x + conv2d_1_out"}),
    Case("block_holding_the_logits_head", EVEN4, "- residual_block: {filters: 4}\n- residual_block: {filters: 4, activation: softmax}", (8, 8, 4), extra="output: {logits: true}", emits={"torch": "self.residual_block_2_conv1 = conv3x3("}),
]
# fmt: on

CASE_OF: dict[str, Case] = {case.id: case for case in CASES}
