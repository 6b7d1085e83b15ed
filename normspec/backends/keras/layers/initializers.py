"""Weight initializers."""

import math

import keras
from keras import ops


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
