"""How the Keras printers write a model: a builder function of the functional API, each layer
built where it is applied, named after its op, one argument per line once a call does not
fit (the way Keras code is written by hand)."""

from __future__ import annotations

from normspec.backends.codegen import Call, Raw
from normspec.backends.keras.helpers import with_requirements
from normspec.backends.printing import Builder, Dialect

DTYPE = Raw("DTYPE")
"""The module constant holding the spec's dtype: the input's dtype, and every layer's when it
is not Keras' default float32."""


def _named(builder: Builder, name: str, layer: Call) -> Call:
    """The layer's options, then ``name=...``, then ``dtype=DTYPE`` in a float64 spec. A
    float32 spec's layers take Keras' global dtype policy (float32 unless the user sets one,
    e.g. mixed_float16), which an explicit dtype would override."""
    dtype = (("dtype", DTYPE),) if builder.float64 else ()
    return Call(layer.func, (*layer.args, ("name", name), *dtype))


DIALECT = Dialect(
    depth=1,
    pack=False,
    branches={"body": "body", "shortcut": "shortcut"},
    attributes=False,
    requirements=with_requirements,
    constructor=_named,
)

RESERVED = frozenset({"input"})
"""Names an extra layer (a padding layer, a residual's add) must not take."""
