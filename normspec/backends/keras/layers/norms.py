"""Normalization layers: each takes the arguments of the stock layer it stands in for
(BatchNormalization, Normalization, RMSNormalization) and computes what the IR says."""

import math

import keras
from keras import layers, ops


class Standardize(layers.Layer):
    """``(x - mean) / std`` per entry of ``axis`` (the channels, last, by default);
    mean and std are not trained.

    It takes keras.layers.Normalization's arguments: ``variance`` in place of ``std``
    (its square root floored at ``epsilon``, Keras' epsilon unless given) and
    ``invert`` (``x * std + mean``); a scalar applies to every channel.

    Without ``mean`` and ``std`` they are to be fitted: call ``adapt(data)`` on the
    training inputs (population std, floored at ``epsilon``) or load weights that
    hold them (``load_weights``, or a ``.keras`` file saved after they were set);
    until then the layer refuses to run. After assigning them yourself, set
    ``fitted = True``.
    """

    def __init__(
        self,
        axis=-1,
        mean=None,
        variance=None,
        invert=False,
        *,
        std=None,
        epsilon=None,
        channels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = self._single_axis(axis)
        self.epsilon = keras.config.epsilon() if epsilon is None else float(epsilon)
        if variance is not None:
            if std is not None:
                raise ValueError("Standardize takes std or variance, not both")
            std = self._values(variance, lambda v: max(math.sqrt(v), self.epsilon))
        if (mean is None) != (std is None):
            raise ValueError("Standardize takes mean and std (or variance), or neither")
        self.initial_mean = self._values(mean, float)
        self.initial_std = self._values(std, float)
        self.invert = invert
        self.channels = channels
        self.fitted = mean is not None
        self.supports_masking = True

    @staticmethod
    def _single_axis(axis):
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if not isinstance(axis, int):
            raise TypeError(f"Standardize normalizes along one axis, not {axis!r}")
        return axis

    @staticmethod
    def _values(values, convert):
        if values is None or isinstance(values, (int, float)):
            return None if values is None else convert(values)
        return tuple(convert(v) for v in values)

    def build(self, input_shape):
        axis = self.axis % len(input_shape)
        if self.channels is None:
            self.channels = input_shape[axis]
        elif input_shape[axis] not in (None, self.channels):
            raise ValueError(
                f"Standardize {self.name!r}: {self.channels} channels, but the input "
                f"has {input_shape[axis]} along axis {self.axis}"
            )
        self._broadcast = [1] * len(input_shape)
        self._broadcast[axis] = self.channels
        self.mean = self._state("mean", self.initial_mean)
        self.std = self._state("std", self.initial_std)

    def _state(self, name, values):
        variable = self.add_weight(
            shape=(self.channels,),
            initializer="zeros",
            trainable=False,
            name=name,
        )
        if values is None or isinstance(values, float):
            values = (float("nan") if values is None else values,) * self.channels
        variable.assign(values)
        return variable

    def call(self, inputs):
        if not self.fitted:
            raise RuntimeError(
                f"Standardize {self.name!r}: mean and std are not set; call "
                f"model.get_layer({self.name!r}).adapt(x_train) with the training "
                "inputs, or load weights that hold them (model.load_weights(...))"
            )
        mean = ops.reshape(self.mean, self._broadcast)
        std = ops.reshape(self.std, self._broadcast)
        if self.invert:
            return inputs * std + mean
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def adapt(self, data):
        if not self.built:
            self.build(ops.shape(data))
        data = ops.convert_to_tensor(data, "float64")
        axis = self.axis % len(data.shape)
        axes = [i for i in range(len(data.shape)) if i != axis]
        mean, variance = ops.moments(data, axes=axes)
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
            axis=self.axis,
            mean=self.initial_mean,
            variance=None,  # given as variance, it is kept as std
            invert=self.invert,
            std=self.initial_std,
            epsilon=self.epsilon,
            channels=self.channels,
        )
        return config


class BatchNormUnbiased(layers.BatchNormalization):
    """BatchNormalization whose moving variance tracks the unbiased batch variance.

    Training normalizes with the biased batch variance, as the stock layer does, but
    the moving variance is updated with ``variance * n / (n - 1)``, where ``n`` is the
    number of values per channel in the batch (batch size times spatial size; under a
    ``mask``, the unmasked positions). Like the stock layer it computes in at least
    float32 and returns its compute dtype. ``synchronized=True`` and ``renorm=True``
    are refused: the correction would need the count over all replicas, or renorm's
    own statistics.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for option in ("synchronized", "renorm"):
            if getattr(self, option):
                raise ValueError(
                    f"BatchNormUnbiased does not support {option}=True; "
                    f"layers.BatchNormalization({option}=True) does, with the biased "
                    "moving variance"
                )

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable):
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        axis = self.axis % len(x.shape)
        axes = [i for i in range(len(x.shape)) if i != axis]
        if mask is None:
            mean, variance = ops.moments(x, axes=axes)
            n = ops.cast(ops.size(x) // x.shape[axis], x.dtype)
        else:
            mean, variance, n = self._masked_moments(x, mask, axes)
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
            axis=axis,
            offset=self._cast(self.beta, x.dtype),
            scale=self._cast(self.gamma, x.dtype),
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    @staticmethod
    def _masked_moments(x, mask, axes):
        """Mean, biased variance and count over the positions where ``mask`` is true."""
        if len(mask.shape) != len(x.shape) - 1:
            raise ValueError(
                "The mask should have one dimension less than the inputs; got "
                f"mask.shape={mask.shape}, inputs.shape={x.shape}"
            )
        weight = ops.cast(ops.expand_dims(mask, -1), x.dtype) * ops.ones_like(x)
        n = ops.sum(weight, axis=axes, keepdims=True)
        mean = ops.sum(x * weight, axis=axes, keepdims=True) / n
        squares = ops.square(x - mean) * weight
        variance = ops.sum(squares, axis=axes, keepdims=True) / n
        return tuple(ops.squeeze(t, axis=tuple(axes)) for t in (mean, variance, n))

    @staticmethod
    def _cast(variable, dtype):
        return None if variable is None else ops.cast(variable, dtype)


class UnscaledRMSNormalization(layers.Layer):
    """``x / sqrt(mean(x**2 over axis) + epsilon)``, without a learned scale; ``axis``
    (an int or a list) and ``epsilon`` as in keras.layers.RMSNormalization."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(axis)
        self.epsilon = epsilon

    def call(self, inputs):
        # At least float32, as in Keras' rms_normalization: squares overflow float16.
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean_square = ops.mean(ops.square(x), axis=self.axis, keepdims=True)
        return ops.cast(x * ops.rsqrt(mean_square + self.epsilon), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
