"""The IR's optimizers as Keras optimizers, exact in float64 as well.

Keras' own SGD and Adam differ from the IR in two ways that matter for tight parity: Adam adds
epsilon to ``sqrt(v)`` rather than to ``sqrt(v_hat)``, and on TensorFlow the hyperparameters
(learning rate, momentum) reach float64 variables rounded through float32 (Python floats become
float32 tensors before the cast). These subclasses keep Keras' optimizer machinery (state
variables, ``apply``, ``fit``) and replace only ``update_step`` with the IR's formulas, every
constant converted straight to the variable's dtype.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from normspec.ir.graph import SGD, Adam


def _constant(value: float, dtype: Any) -> Any:
    return ops.convert_to_tensor(value, dtype=dtype)


class ExactSGD(keras.optimizers.SGD):
    """``v = momentum * v + g``; ``p -= lr * v`` (or ``lr * (g + momentum * v)`` with
    Nesterov). Equal to Keras' form (``m = momentum * m - lr * g``) for a constant rate."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(gradient, dtype)
        if self.momentum == 0:
            self.assign_sub(variable, lr * g)
            return
        momentum = _constant(self.momentum, dtype)
        v = self.momentums[self._get_variable_index(variable)]
        self.assign(v, momentum * v + g)
        step = g + momentum * v if self.nesterov else v
        self.assign_sub(variable, lr * step)


class ExactAdam(keras.optimizers.Adam):
    """Adam exactly as PyTorch and optax (and the IR) define it.

    ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)``,
    ``p -= lr * m_hat / (sqrt(v_hat) + epsilon)``: ``epsilon`` is added to the square root of
    the bias-corrected second moment. Keras' own Adam adds it to ``sqrt(v)`` before the bias
    correction (the "epsilon hat" of the Adam paper's section 2), the same as a step-dependent
    ``epsilon * sqrt(1 - beta2^t)`` in this form, so early steps differ when gradients are
    small. The moments are updated in PyTorch's order of operations
    (``m += (1 - beta1) * (g - m)``; ``v = beta2 * v + (1 - beta2) * g^2``; the denominator
    ``sqrt(v) / sqrt(1 - beta2^t) + epsilon``).
    """

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        dtype = variable.dtype
        lr, g = ops.cast(learning_rate, dtype), ops.cast(gradient, dtype)
        beta1, beta2 = _constant(self.beta_1, dtype), _constant(self.beta_2, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, (g - m) * (1.0 - beta1))
        self.assign(v, v * beta2 + ops.square(g) * (1.0 - beta2))
        bias1 = 1.0 - ops.power(beta1, step)
        bias2_sqrt = ops.sqrt(1.0 - ops.power(beta2, step))
        denominator = ops.sqrt(v) / bias2_sqrt + _constant(self.epsilon, dtype)
        self.assign_sub(variable, (lr / bias1) * m / denominator)


def make_optimizer(opt: SGD | Adam) -> keras.optimizers.Optimizer:
    """The spec's optimizer with every hyperparameter explicit. The learning rate is a callable
    returning a float64 tensor, cast by each update to its variable's dtype; a float would live
    in a float32 variable."""
    rate = float(opt.learning_rate)

    def learning_rate() -> Any:
        return _constant(rate, "float64")

    if isinstance(opt, SGD):
        return ExactSGD(learning_rate=learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
    return ExactAdam(
        learning_rate=learning_rate, beta_1=opt.beta1, beta_2=opt.beta2, epsilon=opt.epsilon
    )
