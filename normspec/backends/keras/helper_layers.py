"""Source of the custom padding, pooling, activation and rescaling layers, and of the
initializer, that the emitted Keras module may define.

Each takes the arguments of the stock layer (or initializer) it stands in for; see
:mod:`normspec.backends.keras.helpers` for how they are copied into the module.
"""

STOCK_ARGUMENTS = '''
def padding_pairs(padding, rank):
    """ZeroPadding's forms as one (before, after) pair per spatial axis: an int for
    every side, one int per axis for both its sides, or the pairs (in 1D also a single
    bare pair)."""
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if rank == 1 and len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return (tuple(padding),)
    pairs = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    if len(pairs) != rank or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"padding {padding!r} does not fit {rank} spatial axes")
    return pairs


def spatial_pads(pairs, data_format):
    """The pairs with the batch and channel axes (unpadded) around them."""
    if data_format == "channels_first":
        return [(0, 0), (0, 0), *pairs]
    return [(0, 0), *pairs, (0, 0)]


def image_data_format(data_format):
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format {data_format!r} is not a Keras data format")
    return data_format


def as_tuples(value):
    """Lists (as a saved config holds them) back to tuples; numbers and names as is."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    return tuple(as_tuples(v) for v in value)
'''

NEGATIVE_INFINITY_PADDING = '''
class NegativeInfinityPadding(layers.Layer):
    """Pads the spatial axes with -inf: padded cells never win the max pool after it.

    ``padding`` and ``data_format`` as in ZeroPadding1D/2D/3D (see ``padding_pairs``).
    """

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = as_tuples(padding)
        self.data_format = image_data_format(data_format)

    def call(self, inputs):
        pairs = padding_pairs(self.padding, len(inputs.shape) - 2)
        pads = spatial_pads(pairs, self.data_format)
        return ops.pad(inputs, pads, constant_values=float("-inf"))

    def get_config(self):
        config = super().get_config()
        config.update(padding=self.padding, data_format=self.data_format)
        return config
'''

AVERAGE_POOLING_EXCLUDING_PADDING = '''
class AveragePoolingExcludingPadding(layers.Layer):
    """Average pool over explicitly zero-padded input, dividing by the number of real
    (unpadded) cells in each window.

    Takes AveragePooling1D/2D/3D's arguments; ``padding`` is "valid", "same"
    (TensorFlow's rule: an odd total puts the extra cell at the end) or explicit
    pairs as ZeroPadding takes them (see ``padding_pairs``).
    """

    def __init__(
        self,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_size = as_tuples(pool_size)
        self.strides = as_tuples(strides)
        self.padding = as_tuples(padding)
        self.data_format = image_data_format(data_format)

    def call(self, inputs):
        rank = len(inputs.shape) - 2
        window = self._per_axis(self.pool_size, rank)
        strides = window if self.strides is None else self._per_axis(self.strides, rank)
        last = self.data_format == "channels_last"
        spatial = inputs.shape[1:-1] if last else inputs.shape[2:]
        pads = spatial_pads(self._pairs(spatial, window, strides), self.data_format)

        def pool(x):
            return ops.average_pool(x, window, strides, "valid", self.data_format)

        # The share of real cells in each window: the same pool over a padded ones map.
        ones = ops.ones((1, *spatial, 1) if last else (1, 1, *spatial), inputs.dtype)
        return pool(ops.pad(inputs, pads)) / pool(ops.pad(ones, pads))

    def _pairs(self, spatial, window, strides):
        if self.padding == "valid":
            return ((0, 0),) * len(spatial)
        if self.padding != "same":
            return padding_pairs(self.padding, len(spatial))
        pairs = []
        for n, k, s in zip(spatial, window, strides, strict=True):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pairs.append((total // 2, total - total // 2))
        return tuple(pairs)

    @staticmethod
    def _per_axis(value, rank):
        return (value,) * rank if isinstance(value, int) else tuple(value)

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
        )
        return config
'''

GELU = '''
class GELU(layers.Layer):
    """GELU written out with ``ops.erf`` (exact) or ``ops.tanh`` (``approximate``, off
    by default as in keras.activations.gelu).

    Spelled out because Keras' gelu kernels round their constants through float32.
    """

    def __init__(self, approximate=False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = approximate
        self.supports_masking = True

    def call(self, x):
        if self.approximate:
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1.0 + ops.tanh(inner))
        return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}
'''

EXACT_RESCALING = '''
class ExactRescaling(layers.Layer):
    """``x * scale + offset``, with both constants converted straight to the input's
    dtype (the stock Rescaling layer rounds them through float32 on TensorFlow).
    ``scale`` and ``offset`` as in keras.layers.Rescaling: scalars, or one value per
    channel (last axis)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = as_tuples(scale)
        self.offset = as_tuples(offset)
        self.supports_masking = True

    def call(self, inputs):
        scale = ops.convert_to_tensor(self.scale, inputs.dtype)
        return inputs * scale + ops.convert_to_tensor(self.offset, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
'''

EXACT_LEAKY_RELU = '''
class ExactLeakyReLU(layers.Layer):
    """``x`` where ``x >= 0``, else ``negative_slope * x``, with the slope kept in
    the input's dtype (the stock LeakyReLU kernel stores it as float32); the same
    default slope (0.3) and check as keras.layers.LeakyReLU."""

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            got = repr(negative_slope)
            raise ValueError(f"ExactLeakyReLU: negative_slope must be >= 0, not {got}")
        self.negative_slope = negative_slope
        self.supports_masking = True

    def call(self, x):
        return ops.where(x >= 0, x, x * self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
'''

BOUNDED_TRUNCATED_NORMAL = '''
class BoundedTruncatedNormal(keras.initializers.TruncatedNormal):
    """Normal(mean, stddev) restricted to [minval, maxval], drawn by inverting the CDF.

    Keras' TruncatedNormal always cuts at two standard deviations, the bounds here
    when none are given; ``mean``, ``stddev`` and ``seed`` are its arguments.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None, *, minval=None, maxval=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)
        self.minval = mean - 2.0 * stddev if minval is None else minval
        self.maxval = mean + 2.0 * stddev if maxval is None else maxval

    def __call__(self, shape, dtype=None):
        low, high = self._cdf(self.minval), self._cdf(self.maxval)
        u = keras.random.uniform(shape, low, high, dtype, self.seed)
        x = self.mean + self.stddev * math.sqrt(2.0) * ops.erfinv(2.0 * u - 1.0)
        return ops.clip(x, self.minval, self.maxval)

    def _cdf(self, value):
        z = (value - self.mean) / (self.stddev * math.sqrt(2.0))
        return 0.5 * (1.0 + math.erf(z))

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}
'''

SUBSAMPLE = '''
class Subsample(layers.Layer):
    """Every ``strides``-th position of each spatial axis, from the first: a dilated
    convolution at stride 1 followed by this is the strided one, which Keras' Conv
    layers refuse (``strides > 1`` together with ``dilation_rate > 1``)."""

    def __init__(self, strides, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.strides = as_tuples(strides)
        self.data_format = image_data_format(data_format)

    def _steps(self, rank):
        return (self.strides,) * rank if isinstance(self.strides, int) else self.strides

    def call(self, inputs):
        steps = [slice(None, None, s) for s in self._steps(len(inputs.shape) - 2)]
        if self.data_format == "channels_first":
            return inputs[(slice(None), slice(None), *steps)]
        return inputs[(slice(None), *steps, slice(None))]

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = 2 if self.data_format == "channels_first" else 1
        for i, s in enumerate(self._steps(len(shape) - 2), start=first):
            shape[i] = None if shape[i] is None else -(-shape[i] // s)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(strides=self.strides, data_format=self.data_format)
        return config
'''
