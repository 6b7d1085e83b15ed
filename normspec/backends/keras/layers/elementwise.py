"""Elementwise layers whose constants stay in the input's dtype: rescaling, GELU and leaky
ReLU (the stock layers round them through float32)."""

import math

from keras import layers, ops

from normspec.backends.keras.layers.arguments import as_tuples


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
