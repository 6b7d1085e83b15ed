"""Input ops: standardization (fixed or fitted) and rescaling."""

from __future__ import annotations

from typing import Literal

from normspec.ir.constraints import Positive
from normspec.ir.ops.base import Constant, Op, Shape, WeightSpec, _channels, register_op
from normspec.ir.roles import MEAN, STD


@register_op
class Standardize(Op):
    """Input normalization ``(x - mean) / std`` per channel (last axis), state not trainable.

    ``adapt: true`` means mean and std are fitted on training data (until then 0 and 1);
    otherwise ``mean`` and ``std`` hold the fixed values. ``epsilon`` floors the fitted std.
    """

    op: Literal["standardize"] = "standardize"
    adapt: bool
    mean: tuple[float, ...]
    std: tuple[Positive, ...]
    epsilon: Positive

    def weights(self, input_shape: Shape) -> list[WeightSpec]:
        c = _channels(input_shape)
        return [
            self._weight(MEAN, (c,), Constant(value=0.0), c, self.mean),
            self._weight(STD, (c,), Constant(value=1.0), c, self.std),
        ]


@register_op
class Rescale(Op):
    """Input rescaling ``x * scale + offset`` (e.g. scale 1/255)."""

    op: Literal["rescale"] = "rescale"
    scale: float
    offset: float
