"""The Keras custom layers and initializer, imported from normspec.backends.keras.layers: each
takes the arguments of the stock layer it stands in for and with them computes what the stock
layer (or numpy) computes, or refuses clearly. test_keras_custom_layers.py checks that the
emitted module defines them as these modules do."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from normspec.backends.keras.layers.arguments import (  # noqa: E402
    as_tuples,
    image_data_format,
    padding_pairs,
    spatial_pads,
)
from normspec.backends.keras.layers.elementwise import GELU, ExactLeakyReLU, ExactRescaling  # noqa: E402
from normspec.backends.keras.layers.initializers import BoundedTruncatedNormal  # noqa: E402
from normspec.backends.keras.layers.norms import (  # noqa: E402
    BatchNormUnbiased,
    Standardize,
    UnscaledRMSNormalization,
)
from normspec.backends.keras.layers.spatial import (  # noqa: E402
    AveragePoolingExcludingPadding,
    NegativeInfinityPadding,
    Subsample,
)
from normspec.backends.named_init import NAMED  # noqa: E402

RNG = np.random.default_rng(0)


def _np(t: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t), np.float64)


def _unbiased(x: np.ndarray, axes: tuple[int, ...], weight: np.ndarray) -> np.ndarray:
    """The unbiased variance of the weighted (0 or 1) values, per channel."""
    n = weight.sum(axis=axes, keepdims=True)
    mean = (x * weight).sum(axis=axes, keepdims=True) / n
    return np.squeeze(((x - mean) ** 2 * weight).sum(axis=axes, keepdims=True) / (n - 1), axes)


# (case, input shape, BatchNormalization arguments, mask or None, reduction axes)
BATCH_NORM_CASES = [
    ("mask", (3, 6, 4), {}, RNG.random((3, 6)) > 0.4, (0, 1)),
    ("axis_1", (3, 4, 5, 5), {"axis": 1}, None, (0, 2, 3)),
    ("synchronized_false", (4, 3), {"synchronized": False}, None, (0,)),
]


@pytest.mark.parametrize(("case", "shape", "kwargs", "mask", "axes"), BATCH_NORM_CASES,
                         ids=[c[0] for c in BATCH_NORM_CASES])  # fmt: skip
def test_batch_norm_unbiased_takes_the_stock_arguments(case, shape, kwargs, mask, axes) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(2.0, 3.0, shape)
    options = {"momentum": 0.5, "epsilon": 1e-3, "dtype": "float64", **kwargs}
    ours, stock = BatchNormUnbiased(**options), keras.layers.BatchNormalization(**options)
    args = {} if mask is None else {"mask": keras.ops.convert_to_tensor(mask)}
    out, expected = (_np(layer(x, training=True, **args)) for layer in (ours, stock))
    np.testing.assert_allclose(out, expected, atol=1e-6)  # stock adds 1e-7 to masked counts
    np.testing.assert_allclose(_np(ours.moving_mean), _np(stock.moving_mean), atol=1e-6)
    weight = np.ones(shape) if mask is None else np.broadcast_to(mask[..., None], shape)
    variance = 0.5 + 0.5 * _unbiased(x, axes, weight)
    np.testing.assert_allclose(_np(ours.moving_variance), variance, rtol=1e-12)
    stats = (_np(ours.moving_mean), variance)
    shape = tuple(n if i not in axes else 1 for i, n in enumerate(shape))
    mean, variance = (s.reshape(shape) for s in stats)
    expected = (x - mean) / np.sqrt(variance + 1e-3)  # eval: the moving statistics
    np.testing.assert_allclose(_np(ours(x, training=False, **args)), expected, rtol=1e-12)


@pytest.mark.parametrize("option", ["synchronized", "renorm"])
def test_batch_norm_unbiased_refuses_what_it_cannot_do(option: str) -> None:
    with pytest.raises(ValueError, match=f"BatchNormUnbiased does not support {option}=True"):
        BatchNormUnbiased(**{option: True})


def _normalization_pair(**kwargs: Any) -> tuple[Any, Any]:
    stock = {k: v for k, v in kwargs.items() if k != "channels"}
    return Standardize(**kwargs), keras.layers.Normalization(**stock)


# (case, Normalization arguments, input shape); adapted where mean and variance are not given
STANDARDIZE_CASES = [
    ("axis_1_adapted", {"axis": 1}, (6, 3, 5)),
    ("axis_tuple_adapted", {"axis": (-1,)}, (6, 5, 2)),
    ("mean_variance", {"mean": [1.0, -2.0], "variance": [4.0, 0.25]}, (5, 2)),
    ("scalars", {"mean": 0.5, "variance": 9.0}, (5, 3)),
    ("invert", {"mean": [1.0, -2.0], "variance": [4.0, 0.25], "invert": True}, (5, 2)),
    ("positional", {"axis": -1, "mean": [3.0], "variance": [2.0], "invert": False}, (4, 1)),
]


@pytest.mark.parametrize(("case", "kwargs", "shape"), STANDARDIZE_CASES,
                         ids=[c[0] for c in STANDARDIZE_CASES])  # fmt: skip
def test_standardize_computes_what_normalization_computes(case, kwargs, shape) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(1.0, 2.0, shape)
    if case == "positional":
        ours = Standardize(*kwargs.values())
        stock = keras.layers.Normalization(*kwargs.values())
    else:
        ours, stock = _normalization_pair(**kwargs)
    if "mean" not in kwargs:
        ours.adapt(x)
        stock.adapt(x)
    x = x.astype(np.float32)
    np.testing.assert_allclose(_np(ours(x)), _np(stock(x)), rtol=1e-5, atol=1e-5)
    assert ours.supports_masking and ours.compute_output_shape(shape) == shape


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mean": [1.0], "std": [1.0], "variance": [1.0]}, ValueError, "std or variance, not both"),
        ({"mean": [1.0]}, ValueError, "mean and std .or variance., or neither"),
        ({"variance": [1.0]}, ValueError, "mean and std .or variance., or neither"),
        ({"axis": (1, 2)}, TypeError, "along one axis, not \\(1, 2\\)"),
        ({"axis": None}, TypeError, "along one axis, not None"),
    ],
)
def test_standardize_refuses_what_normalization_refuses(kwargs, error, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        Standardize(**kwargs)


def test_standardize_infers_its_channels_or_checks_them() -> None:
    layer = Standardize(mean=[0.0, 1.0, 2.0], variance=[1.0, 1.0, 4.0])
    np.testing.assert_allclose(_np(layer(np.full((2, 3), 2.0, np.float32))), [[2, 1, 0]] * 2)
    assert layer.channels == 3
    with pytest.raises(ValueError, match="4 channels, but the input has 3 along axis -1"):
        Standardize(channels=4)(np.zeros((2, 3), np.float32))


# (case, ZeroPadding class, padding, data_format, input shape)
PADDING_CASES = [
    ("int_2d", "ZeroPadding2D", 1, None, (2, 3, 4, 2)),
    ("per_axis_2d", "ZeroPadding2D", (1, 2), None, (2, 3, 4, 2)),
    ("pairs_2d", "ZeroPadding2D", ((1, 0), (2, 3)), None, (2, 3, 4, 2)),
    ("channels_first_2d", "ZeroPadding2D", ((0, 1), (2, 0)), "channels_first", (2, 2, 3, 4)),
    ("int_1d", "ZeroPadding1D", 2, None, (2, 5, 3)),
    ("pair_1d", "ZeroPadding1D", (0, 3), None, (2, 5, 3)),
    ("channels_first_1d", "ZeroPadding1D", (1, 2), "channels_first", (2, 3, 5)),
]


@pytest.mark.parametrize(("case", "stock", "padding", "data_format", "shape"), PADDING_CASES,
                         ids=[c[0] for c in PADDING_CASES])  # fmt: skip
def test_negative_infinity_padding_pads_where_zero_padding_does(
    case, stock, padding, data_format, shape
) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(size=shape).astype(np.float32) + 10.0  # never 0
    ours = _np(NegativeInfinityPadding(padding, data_format=data_format)(x))
    zeros = _np(getattr(keras.layers, stock)(padding, data_format=data_format)(x))
    assert ours.shape == zeros.shape
    np.testing.assert_array_equal(np.isneginf(ours), zeros == 0)
    np.testing.assert_array_equal(np.where(np.isneginf(ours), 0.0, ours), zeros)


# (case, AveragePooling class, arguments, input shape)
POOL_CASES = [
    ("valid_default_strides", "AveragePooling2D", {"pool_size": 2}, (2, 6, 7, 3)),
    ("same_even", "AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 8, 3)),
    ("same_odd", "AveragePooling2D", {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"}, (2, 7, 5, 2)),
    ("channels_first", "AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same", "data_format": "channels_first"}, (2, 3, 7, 7)),
    ("same_1d", "AveragePooling1D", {"pool_size": 4, "strides": 3, "padding": "same"}, (2, 10, 3)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "stock", "kwargs", "shape"), POOL_CASES,
                         ids=[c[0] for c in POOL_CASES])  # fmt: skip
def test_average_pooling_excluding_padding_matches_the_stock_pool(
    case, stock, kwargs, shape
) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(size=shape)
    ours = AveragePoolingExcludingPadding(**kwargs, dtype="float64")
    expected = getattr(keras.layers, stock)(**kwargs, dtype="float64")
    np.testing.assert_allclose(_np(ours(x)), _np(expected(x)), rtol=1e-12)


def test_average_pooling_excluding_padding_takes_zero_padding_forms() -> None:
    x = RNG.normal(size=(2, 5, 5, 2))
    pairs = AveragePoolingExcludingPadding(3, 1, ((1, 1), (1, 1)), dtype="float64")
    same = keras.layers.AveragePooling2D(3, 1, "same", dtype="float64")
    for padding in (1, (1, 1)):
        ours = AveragePoolingExcludingPadding(3, 1, padding, dtype="float64")
        np.testing.assert_allclose(_np(ours(x)), _np(same(x)), rtol=1e-12)
    np.testing.assert_allclose(_np(pairs(x)), _np(same(x)), rtol=1e-12)


@pytest.mark.parametrize(
    ("ours", "stock"),
    [
        (lambda: GELU(), lambda x: keras.activations.gelu(x)),
        (lambda: GELU(approximate=True), lambda x: keras.activations.gelu(x, True)),
        (lambda: ExactLeakyReLU(), keras.layers.LeakyReLU()),
        (lambda: ExactRescaling(0.25), keras.layers.Rescaling(0.25)),
        (lambda: ExactRescaling([0.5, 2.0, -1.0], [1.0, 0.0, 2.0]),
         keras.layers.Rescaling([0.5, 2.0, -1.0], [1.0, 0.0, 2.0])),
        (lambda: UnscaledRMSNormalization(), keras.layers.RMSNormalization()),
        (lambda: UnscaledRMSNormalization(axis=[1, 2]), keras.layers.RMSNormalization(axis=[1, 2])),
    ],
    ids=["gelu_default", "gelu_tanh", "leaky_relu_default", "rescaling_offset_default",
         "rescaling_per_channel", "rms_norm_defaults", "rms_norm_axes"],
)  # fmt: skip
def test_elementwise_layers_take_the_stock_defaults_and_arguments(ours, stock) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(size=(4, 5, 3)).astype(np.float32)
    layer = ours()
    np.testing.assert_allclose(_np(layer(x)), _np(stock(x)), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == x.shape
    rebuilt = type(layer).from_config(layer.get_config())
    np.testing.assert_array_equal(_np(rebuilt(x)), _np(layer(x)))


@pytest.mark.parametrize("slope", [None, -0.1])
def test_exact_leaky_relu_refuses_the_slopes_leaky_relu_refuses(slope) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        keras.layers.LeakyReLU(negative_slope=slope)
    with pytest.raises(ValueError, match="negative_slope must be >= 0"):
        ExactLeakyReLU(negative_slope=slope)


def test_bounded_truncated_normal_takes_truncated_normals_arguments() -> None:
    init = BoundedTruncatedNormal
    default = _np(init()((20000,)))
    assert -0.1 <= default.min() < -0.099 and 0.099 < default.max() <= 0.1
    assert abs(default.std() / 0.05 - 0.88) < 0.02
    seeded = init(1.0, 0.5, 7, minval=0.5, maxval=2.5)
    again = _np(seeded((1000,)))
    np.testing.assert_array_equal(
        _np(init(1.0, 0.5, seed=7, minval=0.5, maxval=2.5)((1000,))), again
    )
    assert not np.array_equal(_np(init(1.0, 0.5, seed=8, minval=0.5, maxval=2.5)((1000,))), again)
    assert again.min() >= 0.5 and again.max() <= 2.5
    rebuilt = init.from_config(seeded.get_config())
    np.testing.assert_array_equal(_np(rebuilt((1000,))), again)


# The arguments' forms


@pytest.mark.parametrize(
    ("padding", "rank", "pairs"),
    [
        (2, 2, ((2, 2), (2, 2))),
        ((1, 3), 2, ((1, 1), (3, 3))),
        (((1, 0), (2, 3)), 2, ((1, 0), (2, 3))),
        ([[1, 0], [2, 3]], 2, ((1, 0), (2, 3))),  # as a saved config holds them
        ((0, 3), 1, ((0, 3),)),  # 1D: a bare pair
        ([(0, 3)], 1, ((0, 3),)),
        (1, 3, ((1, 1),) * 3),
        ((1, (0, 2), 3), 3, ((1, 1), (0, 2), (3, 3))),
    ],
)
def test_padding_pairs_reads_every_zero_padding_form(padding, rank, pairs) -> None:  # type: ignore[no-untyped-def]
    assert padding_pairs(padding, rank) == pairs


@pytest.mark.parametrize(("padding", "rank"), [((1, 2, 3), 2), (((1, 2, 3), (0, 0)), 2), ((1,), 2)])
def test_padding_pairs_refuses_what_does_not_fit(padding, rank) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"does not fit {rank} spatial axes"):
        padding_pairs(padding, rank)


def test_spatial_pads_leave_the_batch_and_channel_axes_alone() -> None:
    pairs = ((1, 2), (3, 4))
    assert spatial_pads(pairs, "channels_last") == [(0, 0), (1, 2), (3, 4), (0, 0)]
    assert spatial_pads(pairs, "channels_first") == [(0, 0), (0, 0), (1, 2), (3, 4)]


def test_image_data_format_defaults_to_keras_and_refuses_other_names() -> None:
    assert image_data_format(None) == keras.config.image_data_format()
    assert image_data_format("channels_first") == "channels_first"
    with pytest.raises(ValueError, match="'NHWC' is not a Keras data format"):
        image_data_format("NHWC")


def test_as_tuples_turns_lists_back_into_tuples_only() -> None:
    assert as_tuples([[1, 2], [3, [4, 5]]]) == ((1, 2), (3, (4, 5)))
    for value in (None, 3, 0.5, "same", (1, 2)):
        assert as_tuples(value) == value
    assert isinstance(as_tuples([1.5, 2])[0], float)


def _from_saved_config(layer: Any) -> Any:
    """The layer rebuilt from its config after a JSON round trip (tuples become lists)."""
    return type(layer).from_config(json.loads(json.dumps(layer.get_config())))


@pytest.mark.parametrize(
    "layer",
    [
        lambda: NegativeInfinityPadding(((1, 0), (2, 1))),
        lambda: AveragePoolingExcludingPadding((3, 2), (2, 1), ((1, 1), (0, 1))),
        lambda: AveragePoolingExcludingPadding(3, 2, "same"),
        lambda: Subsample((2, 3)),
        lambda: ExactRescaling([0.5, 2.0, -1.0], [1.0, 0.0, 2.0]),
        lambda: GELU(approximate=True),
        lambda: ExactLeakyReLU(0.1),
        lambda: UnscaledRMSNormalization(axis=[1, 2], epsilon=1e-3),
        lambda: Standardize(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True),
    ],
    ids=["neg_inf_pad", "avg_pool_pairs", "avg_pool_same", "subsample", "rescaling", "gelu",
         "leaky_relu", "rms_norm", "standardize"],
)  # fmt: skip
def test_a_saved_config_rebuilds_the_same_layer(layer) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(size=(2, 7, 6, 3))
    original = layer()
    np.testing.assert_array_equal(_np(_from_saved_config(original)(x)), _np(original(x)))


# Subsample


@pytest.mark.parametrize(
    ("strides", "data_format", "shape", "expected"),
    [
        (2, None, (2, 7, 6, 3), lambda x: x[:, ::2, ::2, :]),
        ((3, 1), None, (2, 7, 6, 3), lambda x: x[:, ::3, :, :]),
        ((2, 4), "channels_first", (2, 3, 7, 9), lambda x: x[:, :, ::2, ::4]),
        (2, None, (2, 9, 3), lambda x: x[:, ::2, :]),
    ],
)
def test_subsample_keeps_every_strides_th_position_from_the_first(
    strides, data_format, shape, expected
) -> None:  # type: ignore[no-untyped-def]
    x = RNG.normal(size=shape)
    layer = Subsample(strides, data_format=data_format, dtype="float64")
    out = _np(layer(x))
    np.testing.assert_array_equal(out, expected(x))
    assert layer.compute_output_shape(shape) == out.shape
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *out.shape[1:])


def test_subsample_after_a_stride_1_convolution_is_the_strided_convolution() -> None:
    x = RNG.normal(size=(2, 9, 8, 3))
    dense = keras.layers.Conv2D(4, 3, dtype="float64")
    strided = keras.layers.Conv2D(4, 3, strides=2, dtype="float64")
    strided.build(x.shape)
    dense.build(x.shape)
    dense.set_weights(strided.get_weights())
    out = _np(Subsample(2, dtype="float64")(dense(x)))
    np.testing.assert_allclose(out, _np(strided(x)), rtol=1e-12)


def test_subsample_takes_none_for_the_keras_data_format() -> None:
    keras.config.set_image_data_format("channels_first")
    try:
        assert Subsample(2).data_format == "channels_first"
    finally:
        keras.config.set_image_data_format("channels_last")
    assert Subsample(2).data_format == "channels_last"


def test_average_pooling_excluding_padding_pools_3d() -> None:
    x = RNG.normal(size=(2, 5, 6, 7, 2)).astype(np.float32)  # TensorFlow: no float64 3D pool
    kwargs = {"pool_size": (3, 2, 3), "strides": (2, 1, 2), "padding": "same"}
    ours = AveragePoolingExcludingPadding(**kwargs)
    stock = keras.layers.AveragePooling3D(**kwargs)
    np.testing.assert_allclose(_np(ours(x)), _np(stock(x)), rtol=1e-6, atol=1e-6)


def test_average_pooling_excluding_padding_counts_only_real_cells() -> None:
    x = np.ones((1, 4, 4, 1))
    x[0, 0, 0, 0] = 5.0
    out = _np(AveragePoolingExcludingPadding(2, 2, ((1, 1), (1, 1)), dtype="float64")(x))
    # The corner window holds one real cell: its value, not a quarter of it.
    np.testing.assert_array_equal(
        out[0, :, :, 0], np.ones((3, 3)) + np.pad([[4.0]], ((0, 2), (0, 2)))
    )


def test_negative_infinity_padding_loses_to_every_value_in_a_max_pool() -> None:
    x = -1e30 * np.ones((1, 3, 3, 1), np.float32)
    out = _np(keras.layers.MaxPooling2D(2, 1)(NegativeInfinityPadding(1)(x)))
    np.testing.assert_array_equal(out, np.full((1, 4, 4, 1), -1e30, np.float32))


# Elementwise layers: the constants stay in the input's dtype


def test_exact_rescaling_keeps_its_constants_in_float64() -> None:
    x = RNG.normal(size=(4, 3))
    out = _np(ExactRescaling(0.1, 1.0 / 3.0, dtype="float64")(x))
    np.testing.assert_array_equal(out, x * 0.1 + 1.0 / 3.0)
    per_channel = ExactRescaling([0.1, 0.2, 0.3], [0.7, 0.0, -0.1], dtype="float64")
    expected = x * np.array([0.1, 0.2, 0.3]) + np.array([0.7, 0.0, -0.1])
    np.testing.assert_array_equal(_np(per_channel(x)), expected)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_is_exact_in_float64(approximate: bool) -> None:
    x = RNG.normal(0.0, 3.0, size=(50,))
    if approximate:
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        expected = 0.5 * x * (1.0 + np.tanh(inner))
    else:
        expected = 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    layer = GELU(approximate=approximate, dtype="float64")
    # 1e-15 absolute: one ulp of erf (or tanh) near -1, where 1 + erf cancels; float32
    # constants would be off by 1e-8.
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-14, atol=1e-15)


def test_exact_leaky_relu_keeps_its_slope_in_float64() -> None:
    x = np.concatenate([RNG.normal(size=20), [0.0, -0.0]])
    out = _np(ExactLeakyReLU(0.1, dtype="float64")(x))
    np.testing.assert_array_equal(out, np.where(x >= 0, x, x * 0.1))
    np.testing.assert_array_equal(_np(ExactLeakyReLU(0.0, dtype="float64")(x)), np.maximum(x, 0))


# Normalization layers


def test_unscaled_rms_normalization_computes_in_float32_for_float16_inputs() -> None:
    x = RNG.normal(0.0, 300.0, size=(3, 8)).astype(np.float16)  # squares overflow float16
    out = UnscaledRMSNormalization(epsilon=1e-6, dtype="float16")(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    wide = x.astype(np.float32)
    expected = wide / np.sqrt(np.mean(wide**2, axis=-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(_np(out), expected, rtol=2e-3)


def test_unscaled_rms_normalization_over_several_axes() -> None:
    x = RNG.normal(size=(2, 3, 4, 5))
    out = _np(UnscaledRMSNormalization(axis=[1, 3], epsilon=0.0, dtype="float64")(x))
    np.testing.assert_allclose(
        out, x / np.sqrt(np.mean(x**2, axis=(1, 3), keepdims=True)), rtol=1e-13
    )


def test_batch_norm_unbiased_evaluates_and_freezes_as_the_stock_layer() -> None:
    x = RNG.normal(1.0, 2.0, (6, 4))
    options = {"momentum": 0.5, "epsilon": 1e-3, "dtype": "float64"}
    ours, stock = BatchNormUnbiased(**options), keras.layers.BatchNormalization(**options)
    for layer in (ours, stock):
        layer.build(x.shape)
        layer.moving_mean.assign([0.5, -1.0, 0.0, 2.0])
        layer.moving_variance.assign([1.0, 4.0, 0.25, 2.0])
        layer.gamma.assign([1.0, 2.0, 0.5, -1.0])
        layer.beta.assign([0.0, 1.0, -1.0, 0.5])
    np.testing.assert_array_equal(_np(ours(x, training=False)), _np(stock(x, training=False)))
    ours.trainable = stock.trainable = False  # frozen: trains as it evaluates
    np.testing.assert_array_equal(_np(ours(x, training=True)), _np(stock(x, training=True)))
    np.testing.assert_array_equal(_np(ours.moving_variance), [1.0, 4.0, 0.25, 2.0])


def test_batch_norm_unbiased_under_mixed_precision_computes_in_float32() -> None:
    x = RNG.normal(1.0, 2.0, (8, 3)).astype(np.float16)
    options = {"momentum": 0.0, "dtype": "mixed_float16"}  # the moving values: the batch's
    ours, stock = BatchNormUnbiased(**options), keras.layers.BatchNormalization(**options)
    out = ours(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert keras.backend.standardize_dtype(ours.moving_variance.dtype) == "float32"
    np.testing.assert_allclose(_np(out), _np(stock(x, training=True)), atol=2e-3)
    wide = x.astype(np.float64)
    np.testing.assert_allclose(_np(ours.moving_variance), wide.var(axis=0, ddof=1), rtol=1e-6)


def test_standardize_adapts_to_the_population_statistics_floored_at_epsilon() -> None:
    x = RNG.normal(3.0, 2.0, (50, 3))
    x[:, 2] = 7.0  # a constant channel: its std is floored at epsilon
    layer = Standardize(epsilon=1e-3)
    layer.adapt(x)
    np.testing.assert_allclose(_np(layer.mean), x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(_np(layer.std), [*x[:, :2].std(axis=0), 1e-3], rtol=1e-6)
    np.testing.assert_allclose(_np(layer(x.astype(np.float32)))[:, 2], 0.0, atol=1e-6)


def test_standardize_inverts_what_it_standardizes() -> None:
    stats = {"mean": [1.0, -2.0], "std": [4.0, 0.5]}
    forward, back = Standardize(**stats), Standardize(**stats, invert=True)
    x = RNG.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(_np(forward(x)), (x - [1.0, -2.0]) / [4.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(_np(back(forward(x))), x, rtol=1e-5, atol=1e-6)


def test_standardize_floors_the_std_given_as_variance_and_keeps_it_as_std() -> None:
    layer = Standardize(mean=[0.0, 0.0], variance=[0.0, 9.0], epsilon=0.01)
    assert layer.initial_std == (0.01, 3.0)
    config = layer.get_config()
    assert config["variance"] is None and config["std"] == (0.01, 3.0)
    x = np.array([[1.0, 3.0]], np.float32)
    np.testing.assert_allclose(_np(Standardize.from_config(config)(x)), [[100.0, 1.0]])


def test_standardize_refuses_to_run_unfitted_and_knows_loaded_statistics() -> None:
    x = RNG.normal(size=(4, 2)).astype(np.float32)
    unfitted = Standardize(name="norm")
    unfitted.build(x.shape)
    with pytest.raises(RuntimeError, match="'norm': mean and std are not set"):
        unfitted(x)
    store: dict[str, Any] = {}
    unfitted.save_own_variables(store)
    loaded = Standardize(channels=2)
    loaded.build(x.shape)
    loaded.load_own_variables(store)
    assert not loaded.fitted
    fitted = Standardize()
    fitted.adapt(x)
    fitted.save_own_variables(store)
    loaded.load_own_variables(store)
    assert loaded.fitted
    np.testing.assert_array_equal(_np(loaded(x)), _np(fitted(x)))


def test_bounded_truncated_normal_has_the_truncated_normals_mean_and_std() -> None:
    mean, std, low, high = 0.1, 0.2, 0.0, 0.5
    draws = _np(BoundedTruncatedNormal(mean, std, seed=1, minval=low, maxval=high)((200000,)))
    a, b = (low - mean) / std, (high - mean) / std

    def pdf(z: float) -> float:
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    mass = 0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2)))
    expected_mean = mean + std * (pdf(a) - pdf(b)) / mass
    expected_var = std**2 * (1 + (a * pdf(a) - b * pdf(b)) / mass - ((pdf(a) - pdf(b)) / mass) ** 2)
    assert draws.min() >= low and draws.max() <= high
    assert abs(draws.mean() - expected_mean) < 1e-3
    assert abs(draws.std() - math.sqrt(expected_var)) < 1e-3


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("shape", [(512, 10), (3, 3, 3, 64), (3, 3, 64, 128), (2, 5, 7), (1, 1)])
def test_variance_scaling_draws_from_the_distribution_the_spec_records(
    name: str, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emitted ``VarianceScaling`` arguments of a named initializer make Keras draw with
    exactly the numbers ``resolve`` writes into the canonical spec for the kernel's fans."""
    from keras.src.initializers import random_initializers

    from normspec.backends.keras.options import VARIANCE_SCALING
    from normspec.ir import initializers as resolved
    from normspec.ir import ops as ir

    drawn: dict[str, float] = {}

    def record(shape: Any, **kwargs: Any) -> Any:
        drawn.update({k: v for k, v in kwargs.items() if k in ("stddev", "minval", "maxval")})
        return np.zeros(shape)

    monkeypatch.setattr(random_initializers.random, "truncated_normal", record)
    monkeypatch.setattr(random_initializers.random, "uniform", record)
    scale, mode, distribution = VARIANCE_SCALING[name]
    keras.initializers.VarianceScaling(scale=scale, mode=mode, distribution=distribution)(shape)
    size = math.prod(shape[:-2])
    expected = resolved.resolve(name, shape[-2] * size, shape[-1] * size)
    if isinstance(expected, ir.TruncatedNormal):
        assert drawn == {"stddev": expected.std}
        assert (expected.low, expected.high) == (-2 * expected.std, 2 * expected.std)
    else:
        assert isinstance(expected, ir.Uniform)
        assert drawn == {"minval": expected.low, "maxval": expected.high}
