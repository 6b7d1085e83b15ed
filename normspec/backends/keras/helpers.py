"""Small custom layers the emitted Keras module defines when no stock layer is exact.

Each helper is source text copied into the generated file only when the spec needs it (with
the helpers it requires), in the order of :data:`HELPERS`. Every class registers under
``PACKAGE`` (the spec's name, defined by the generated module) so that saved ``.keras`` files
load back, has a ``get_config`` covering its arguments, and takes the arguments of the stock
layer it stands in for. The sources live in :mod:`~.helper_norms` and :mod:`~.helper_layers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from normspec.backends.keras import helper_layers as hl
from normspec.backends.keras import helper_norms as hn


@dataclass(frozen=True)
class Helper:
    source: str
    imports: frozenset[str]
    """Names the source uses from the module's imports: ``math``, ``ops``."""
    requires: frozenset[str] = frozenset()
    """Other helpers the source calls."""

    @property
    def is_class(self) -> bool:
        return self.source.lstrip().startswith("class ")


_REGISTER = "@keras.saving.register_keras_serializable(package=PACKAGE)\n"

_OPS = frozenset({"ops"})
_MATH_OPS = frozenset({"math", "ops"})
_ARGUMENTS = frozenset({"stock_arguments"})

HELPERS: dict[str, Helper] = {
    "stock_arguments": Helper(hl.STOCK_ARGUMENTS, frozenset()),
    "Standardize": Helper(hn.STANDARDIZE, _MATH_OPS),
    "ExactRescaling": Helper(hl.EXACT_RESCALING, _OPS, _ARGUMENTS),
    "BatchNormUnbiased": Helper(hn.BATCH_NORM_UNBIASED, _OPS),
    "UnscaledRMSNormalization": Helper(hn.UNSCALED_RMS_NORMALIZATION, _OPS),
    "NegativeInfinityPadding": Helper(hl.NEGATIVE_INFINITY_PADDING, _OPS, _ARGUMENTS),
    "AveragePoolingExcludingPadding": Helper(
        hl.AVERAGE_POOLING_EXCLUDING_PADDING, _OPS, _ARGUMENTS
    ),
    "Subsample": Helper(hl.SUBSAMPLE, frozenset(), _ARGUMENTS),
    "GELU": Helper(hl.GELU, _MATH_OPS),
    "ExactLeakyReLU": Helper(hl.EXACT_LEAKY_RELU, _OPS),
    "BoundedTruncatedNormal": Helper(hl.BOUNDED_TRUNCATED_NORMAL, _MATH_OPS),
}
"""Helper name -> its source; the emitted module defines them in this order."""


def with_requirements(name: str) -> set[str]:
    """``name`` and every helper it needs, directly or not."""
    needed, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in needed:
            needed.add(current)
            todo += HELPERS[current].requires
    return needed


def helper_source(name: str) -> str:
    """The definition; a class is decorated to register under the module's ``PACKAGE``."""
    helper = HELPERS[name]
    body = helper.source.strip("\n") + "\n"
    return _REGISTER + body if helper.is_class else body
