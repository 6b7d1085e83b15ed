"""Layers over the spatial axes: padding with -inf before a max pool, an average pool that
counts only real cells, and the subsampling that makes a dilated convolution strided."""

from keras import layers, ops

from normspec.backends.keras.layers.arguments import (
    as_tuples,
    image_data_format,
    padding_pairs,
    spatial_pads,
)


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
