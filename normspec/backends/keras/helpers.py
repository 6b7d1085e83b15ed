"""Small custom layers the emitted Keras module defines when no stock layer is exact.

Each helper is source text copied into the generated file only when the spec needs it, in the
order of :data:`HELPERS`. Every class registers under ``PACKAGE`` (the spec's name, defined by
the generated module) so that saved ``.keras`` files load back, and has a ``get_config``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helper:
    source: str
    imports: frozenset[str]
    """Names the source uses from the module's imports: ``math``, ``ops``."""


_REGISTER = "@keras.saving.register_keras_serializable(package=PACKAGE)\n"

_BATCH_NORM_UNBIASED = '''
class BatchNormUnbiased(layers.BatchNormalization):
    """BatchNormalization whose moving variance tracks the unbiased batch variance.

    Training normalizes with the biased batch variance, as the stock layer does, but
    the moving variance is updated with ``variance * n / (n - 1)``, where ``n`` is the
    number of values per channel in the batch (batch size times spatial size). Like
    the stock layer it computes in at least float32 and returns its compute dtype.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable):
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = ops.moments(x, axes=list(range(len(x.shape) - 1)))
        n = ops.cast(ops.size(x) // x.shape[-1], x.dtype)
        keep = self.momentum  # Keras' momentum: the weight of the old moving value
        moving_mean = ops.cast(self.moving_mean, x.dtype)
        self.moving_mean.assign(moving_mean * keep + mean * (1.0 - keep))
        unbiased = variance * (n / (n - 1.0))
        moving_variance = ops.cast(self.moving_variance, x.dtype)
        self.moving_variance.assign(moving_variance * keep + unbiased * (1.0 - keep))
        outputs = ops.batch_normalization(
            x,
            mean,
            variance,
            axis=-1,
            offset=self._cast(self.beta, x.dtype),
            scale=self._cast(self.gamma, x.dtype),
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    @staticmethod
    def _cast(variable, dtype):
        return None if variable is None else ops.cast(variable, dtype)
'''

_STANDARDIZE = '''
class Standardize(layers.Layer):
    """``(x - mean) / std`` per channel (last axis); mean and std are not trained.

    Without ``mean`` and ``std`` they are to be fitted: call ``adapt(data)`` on the
    training inputs (population std, floored at ``epsilon``) or load weights that
    hold them (``load_weights``, or a ``.keras`` file saved after they were set);
    until then the layer refuses to run. After assigning them yourself, set
    ``fitted = True``.
    """

    def __init__(self, channels, mean=None, std=None, *, epsilon, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.initial_mean = None if mean is None else tuple(mean)
        self.initial_std = None if std is None else tuple(std)
        self.epsilon = epsilon
        self.fitted = mean is not None and std is not None

    def build(self, input_shape):
        self.mean = self._state("mean", self.initial_mean)
        self.std = self._state("std", self.initial_std)

    def _state(self, name, values):
        variable = self.add_weight(
            shape=(self.channels,),
            initializer="zeros",
            trainable=False,
            name=name,
        )
        variable.assign((float("nan"),) * self.channels if values is None else values)
        return variable

    def call(self, inputs):
        if not self.fitted:
            raise RuntimeError(
                f"Standardize {self.name!r}: mean and std are not set; call "
                f"model.get_layer({self.name!r}).adapt(x_train) with the training "
                "inputs, or load weights that hold them (model.load_weights(...))"
            )
        return (inputs - self.mean) / self.std

    def compute_output_shape(self, input_shape):
        return input_shape

    def adapt(self, data):
        if not self.built:
            self.build(ops.shape(data))
        data = ops.convert_to_tensor(data, "float64")
        mean, variance = ops.moments(data, axes=list(range(len(data.shape) - 1)))
        self.mean.assign(ops.cast(mean, self.mean.dtype))
        std = ops.maximum(ops.sqrt(variance), self.epsilon)
        self.std.assign(ops.cast(std, self.std.dtype))
        self.fitted = True

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # Statistics saved before they were set are still the NaN placeholders.
        stats = ops.concatenate([self.mean, self.std])
        self.fitted = not bool(ops.any(ops.isnan(stats)))

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=self.channels,
            mean=self.initial_mean,
            std=self.initial_std,
            epsilon=self.epsilon,
        )
        return config
'''

_NEGATIVE_INFINITY_PADDING = '''
class NegativeInfinityPadding(layers.Layer):
    """Pads the spatial axes with -inf: padded cells never win the max pool after it."""

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(tuple(pair) for pair in padding)

    def call(self, inputs):
        pads = [(0, 0), *self.padding, (0, 0)]
        return ops.pad(inputs, pads, constant_values=float("-inf"))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
'''

_AVERAGE_POOLING_EXCLUDING_PADDING = '''
class AveragePoolingExcludingPadding(layers.Layer):
    """Average pool over explicitly zero-padded input, dividing by the number of real
    (unpadded) cells in each window."""

    def __init__(self, pool_size, strides, padding, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.padding = tuple(tuple(pair) for pair in padding)

    def call(self, inputs):
        pads = [(0, 0), *self.padding, (0, 0)]
        mean = self._pool(ops.pad(inputs, pads))
        # The share of real cells in each window: the same pool over a padded ones map.
        ones = ops.ones((1, *inputs.shape[1:-1], 1), dtype=inputs.dtype)
        return mean / self._pool(ops.pad(ones, pads))

    def _pool(self, x):
        return ops.average_pool(
            x,
            pool_size=self.pool_size,
            strides=self.strides,
            padding="valid",
            data_format="channels_last",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            strides=self.strides,
            padding=self.padding,
        )
        return config
'''

_GELU = '''
class GELU(layers.Layer):
    """GELU written out with ``ops.erf`` (exact) or ``ops.tanh`` (``approximate``).

    Spelled out because Keras' gelu kernels round their constants through float32.
    """

    def __init__(self, approximate, **kwargs):
        super().__init__(**kwargs)
        self.approximate = approximate

    def call(self, x):
        if self.approximate:
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1.0 + ops.tanh(inner))
        return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}
'''

_EXACT_RESCALING = '''
class ExactRescaling(layers.Layer):
    """``x * scale + offset``, with both constants in the input's float64 (the stock
    Rescaling layer rounds them through float32 on TensorFlow)."""

    def __init__(self, scale, offset, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def call(self, inputs):
        return inputs * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
'''

_EXACT_LEAKY_RELU = '''
class ExactLeakyReLU(layers.Layer):
    """``x`` where ``x >= 0``, else ``negative_slope * x``, with the slope kept in
    float64 (the stock LeakyReLU kernel stores it as float32)."""

    def __init__(self, negative_slope, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, x):
        return ops.where(x >= 0, x, x * self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
'''

_UNSCALED_RMS_NORMALIZATION = '''
class UnscaledRMSNormalization(layers.Layer):
    """``x / sqrt(mean(x**2 over channels) + epsilon)``, without a learned scale."""

    def __init__(self, epsilon, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        # At least float32, as in Keras' rms_normalization: squares overflow float16.
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean_square = ops.mean(ops.square(x), axis=-1, keepdims=True)
        return ops.cast(x * ops.rsqrt(mean_square + self.epsilon), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
'''

_BOUNDED_TRUNCATED_NORMAL = '''
class BoundedTruncatedNormal(keras.initializers.Initializer):
    """Normal(mean, stddev) restricted to [minval, maxval], drawn by inverting the CDF.

    Keras' TruncatedNormal always cuts at two standard deviations; these bounds differ.
    """

    def __init__(self, mean, stddev, minval, maxval):
        self.mean, self.stddev = mean, stddev
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        low, high = self._cdf(self.minval), self._cdf(self.maxval)
        u = keras.random.uniform(shape, minval=low, maxval=high, dtype=dtype)
        x = self.mean + self.stddev * math.sqrt(2.0) * ops.erfinv(2.0 * u - 1.0)
        return ops.clip(x, self.minval, self.maxval)

    def _cdf(self, value):
        z = (value - self.mean) / (self.stddev * math.sqrt(2.0))
        return 0.5 * (1.0 + math.erf(z))

    def get_config(self):
        return {
            "mean": self.mean,
            "stddev": self.stddev,
            "minval": self.minval,
            "maxval": self.maxval,
        }
'''

_OPS = frozenset({"ops"})
_MATH_OPS = frozenset({"math", "ops"})

HELPERS: dict[str, Helper] = {
    "Standardize": Helper(_STANDARDIZE, _OPS),
    "ExactRescaling": Helper(_EXACT_RESCALING, frozenset()),
    "BatchNormUnbiased": Helper(_BATCH_NORM_UNBIASED, _OPS),
    "UnscaledRMSNormalization": Helper(_UNSCALED_RMS_NORMALIZATION, _OPS),
    "NegativeInfinityPadding": Helper(_NEGATIVE_INFINITY_PADDING, _OPS),
    "AveragePoolingExcludingPadding": Helper(_AVERAGE_POOLING_EXCLUDING_PADDING, _OPS),
    "GELU": Helper(_GELU, _MATH_OPS),
    "ExactLeakyReLU": Helper(_EXACT_LEAKY_RELU, _OPS),
    "BoundedTruncatedNormal": Helper(_BOUNDED_TRUNCATED_NORMAL, _MATH_OPS),
}
"""Helper class name -> its source; the emitted module defines them in this order."""


def helper_source(name: str) -> str:
    """The class definition, decorated to register under the module's ``PACKAGE``."""
    return _REGISTER + HELPERS[name].source.strip("\n") + "\n"
