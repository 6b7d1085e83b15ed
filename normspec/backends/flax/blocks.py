"""Flax block classes: every residual of the spec is an ``nnx.Module`` of its own (on
:class:`Block`, which sows only inside ``nnx.capture``), one class per set of residuals that
differ only in numbers (:mod:`normspec.backends.block_classes`), which the model instantiates
as an attribute named after the residual (``self.residual_block_3 =
ResidualBlockWithShortcut(in_features=64, features=128, rngs=rngs, precision=precision)``).

A node inside a block is the layer ``<residual>.<local name>`` (``residual_block_3.conv1``),
whose output the block sows under its local name: ``nnx.capture`` returns it nested under the
residual's attribute.
"""

from __future__ import annotations

from typing import Any

from normspec.backends import block_classes
from normspec.backends.block_classes import ClassWriter
from normspec.backends.codegen import INDENT
from normspec.backends.flax import helpers
from normspec.backends.flax.emitter import PRECISION, PRINTERS, RNGS
from normspec.backends.printing import Builder
from normspec.backends.recording import lay_out
from normspec.backends.templates import Template, parameters_of

POSITIONAL = {
    "nnx.Linear": ("in_features", "out_features"),
    "nnx.Conv": ("in_features", "out_features"),
    "nnx.BatchNorm": ("num_features",),
    "nnx.LayerNorm": ("num_features",),
    "nnx.GroupNorm": ("num_features",),
    "nnx.RMSNorm": ("num_features",),
    "nnx.Dropout": ("rate",),
}
"""The positional parameters of the ``nnx`` layers the printers pass numbers to."""


def positional(func: str) -> tuple[str, ...]:
    """The positional parameters of ``func``: an ``nnx`` layer or a helper."""
    if func in POSITIONAL:
        return POSITIONAL[func]
    source = helpers.helper_source(func) if func in helpers.HELPERS else None
    return parameters_of(source, func)


def _arguments(template: Template) -> dict[str, Any]:
    return {
        raw.text: raw for raw in (RNGS, PRECISION) if block_classes.uses_raw(template, raw.text)
    }


def _source(builder: Builder, template: Template, name: str) -> str:
    builder.helper("Block")
    pad = INDENT * 2
    lines = [f"class {name}(Block):", *block_classes.class_docstring(template), ""]
    keywords = {"rngs": "nnx.Rngs", "precision": "jax.lax.PrecisionLike"}
    args = [f"{p.name}: {p.annotation}" for p in template.parameters]
    extra = [f"{key}: {keywords[key]}" for key in _arguments(template)]
    args = ["self", *args, *(["*", *extra] if extra else [])]
    lines += [f"{INDENT}def __init__(", *(f"{pad}{a}," for a in args), f"{INDENT}) -> None:"]
    init, forward = block_classes.sections(template)
    lines += lay_out(builder, init) or [f"{pad}pass"]
    lines += ["", f"{INDENT}def __call__(self, x: jax.Array) -> jax.Array:"]
    lines += [*lay_out(builder, forward), f"{pad}return x"]
    return "\n".join(lines)


WRITER = ClassWriter(
    printers=PRINTERS,
    positional=positional,
    reserved=frozenset({"self", "x", "rngs", "precision", "jax", "jnp", "nnx", "math", "DTYPE"}),
    arguments=_arguments,
    source=_source,
)
