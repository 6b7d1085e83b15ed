"""Keras block functions: every residual of the spec is written once per set of residuals that
differ only in numbers (:mod:`normspec.backends.block_classes`), as a function of the
functional API that builds its layers on a tensor and returns the result, as Keras' own
applications write their blocks::

    def residual_block(x: keras.KerasTensor, channels: int, name: str) -> keras.KerasTensor:
        body = layers.Conv2D(filters=channels, ..., name=f"{name}_conv1")(x)
        ...

The model's builder calls it per residual (``x = residual_block(x, channels=64,
name="residual_block_1")``). The layers keep the spec's names (``residual_block_1_conv1``), so
the model's layers, weights and captured outputs are those of a model written inline.
"""

from __future__ import annotations

import re

from normspec.backends import block_classes
from normspec.backends.block_classes import ClassWriter
from normspec.backends.blocks import Instance
from normspec.backends.codegen import INDENT, LINE_LENGTH, Call
from normspec.backends.keras.emitter import PRINTERS
from normspec.backends.printing import Builder, Site
from normspec.backends.recording import lay_out
from normspec.backends.templates import NAME, Template

POSITIONAL = {"layers.Dropout": ("rate",)}
"""The positional parameters of the Keras layers the printers pass numbers to (most take
keywords)."""


def function_name(class_name: str) -> str:
    """``ResidualBlockWithShortcut`` -> ``residual_block_with_shortcut``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def _instantiate(site: Site, instance: Instance, layer: Call) -> None:
    func = function_name(layer.func)
    args = ((None, site.x), *layer.args, (NAME, instance.name))
    site.result(Call(func, args))


def _source(builder: Builder, template: Template, name: str) -> str:
    tensor = "keras.KerasTensor"
    params = [f"x: {tensor}", *(f"{p.name}: {p.annotation}" for p in template.parameters)]
    params += [f"{NAME}: str"] if template.named else []
    head = f"def {function_name(name)}({', '.join(params)}) -> {tensor}:"
    if len(head) > LINE_LENGTH:
        head = "\n".join(
            [f"def {function_name(name)}(", *(f"{INDENT}{p}," for p in params), f") -> {tensor}:"]
        )
    doc = block_classes.class_docstring(template)
    _, forward = block_classes.sections(template)
    lines = [head, *doc, *lay_out(builder, forward), f"{INDENT}return x"]
    return "\n".join(lines) + "\n"


WRITER = ClassWriter(
    printers=PRINTERS,
    positional=lambda func: POSITIONAL.get(func, ()),
    reserved=frozenset({"x", "inputs", "keras", "layers", "ops", "math", "DTYPE", "PACKAGE"}),
    arguments=lambda template: {},
    source=_source,
    instantiate=_instantiate,
    local=False,
)
