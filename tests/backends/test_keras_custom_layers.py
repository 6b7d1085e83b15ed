"""The emitted custom Keras layers take the arguments of the stock layers they stand in for,
and with them compute what the stock layer computes (or refuse clearly)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from parity_cases import make_spec

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from test_keras_backend import ALL_WEIGHTS, FLAT, ODD  # noqa: E402

from normspec.backends.keras import BACKEND  # noqa: E402


def _classes() -> dict[str, Any]:
    """Every custom class, from the emitted modules of two specs that use them all."""
    found: dict[str, Any] = {}
    for spec in (
        make_spec(ODD, ALL_WEIGHTS, "standardize", "float64", name="layers_a"),
        make_spec(FLAT, "- dense: 2", "{kind: rescale, scale: 0.5}", "float64", name="layers_b"),
    ):
        namespace: dict[str, Any] = {"__name__": f"custom_{spec.name}"}
        exec(compile(BACKEND.emit(spec), spec.name, "exec"), namespace)
        found |= {k: v for k, v in namespace.items() if isinstance(v, type)}
    return found


C = _classes()
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
    ours, stock = C["BatchNormUnbiased"](**options), keras.layers.BatchNormalization(**options)
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
        C["BatchNormUnbiased"](**{option: True})


def _normalization_pair(**kwargs: Any) -> tuple[Any, Any]:
    stock = {k: v for k, v in kwargs.items() if k != "channels"}
    return C["Standardize"](**kwargs), keras.layers.Normalization(**stock)


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
        ours = C["Standardize"](*kwargs.values())
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
        C["Standardize"](**kwargs)


def test_standardize_infers_its_channels_or_checks_them() -> None:
    layer = C["Standardize"](mean=[0.0, 1.0, 2.0], variance=[1.0, 1.0, 4.0])
    np.testing.assert_allclose(_np(layer(np.full((2, 3), 2.0, np.float32))), [[2, 1, 0]] * 2)
    assert layer.channels == 3
    with pytest.raises(ValueError, match="4 channels, but the input has 3 along axis -1"):
        C["Standardize"](channels=4)(np.zeros((2, 3), np.float32))


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
    ours = _np(C["NegativeInfinityPadding"](padding, data_format=data_format)(x))
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
    ours = C["AveragePoolingExcludingPadding"](**kwargs, dtype="float64")
    expected = getattr(keras.layers, stock)(**kwargs, dtype="float64")
    np.testing.assert_allclose(_np(ours(x)), _np(expected(x)), rtol=1e-12)


def test_average_pooling_excluding_padding_takes_zero_padding_forms() -> None:
    x = RNG.normal(size=(2, 5, 5, 2))
    pairs = C["AveragePoolingExcludingPadding"](3, 1, ((1, 1), (1, 1)), dtype="float64")
    same = keras.layers.AveragePooling2D(3, 1, "same", dtype="float64")
    for padding in (1, (1, 1)):
        ours = C["AveragePoolingExcludingPadding"](3, 1, padding, dtype="float64")
        np.testing.assert_allclose(_np(ours(x)), _np(same(x)), rtol=1e-12)
    np.testing.assert_allclose(_np(pairs(x)), _np(same(x)), rtol=1e-12)


@pytest.mark.parametrize(
    ("ours", "stock"),
    [
        (lambda: C["GELU"](), lambda x: keras.activations.gelu(x)),
        (lambda: C["GELU"](approximate=True), lambda x: keras.activations.gelu(x, True)),
        (lambda: C["ExactLeakyReLU"](), keras.layers.LeakyReLU()),
        (lambda: C["ExactRescaling"](0.25), keras.layers.Rescaling(0.25)),
        (lambda: C["ExactRescaling"]([0.5, 2.0, -1.0], [1.0, 0.0, 2.0]),
         keras.layers.Rescaling([0.5, 2.0, -1.0], [1.0, 0.0, 2.0])),
        (lambda: C["UnscaledRMSNormalization"](), keras.layers.RMSNormalization()),
        (lambda: C["UnscaledRMSNormalization"](axis=[1, 2]), keras.layers.RMSNormalization(axis=[1, 2])),
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
        C["ExactLeakyReLU"](negative_slope=slope)


def test_bounded_truncated_normal_takes_truncated_normals_arguments() -> None:
    init = C["BoundedTruncatedNormal"]
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
