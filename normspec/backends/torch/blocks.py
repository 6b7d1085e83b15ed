"""PyTorch block classes: every residual of the spec is an ``nn.Module`` of its own, one class per
set of residuals that differ only in numbers (:mod:`normspec.backends.block_classes`), which the
model instantiates as an attribute named after the residual (``self.residual_block_3 =
ResidualBlockWithShortcut(in_channels=64, channels=128, dtype=dtype)``).

A node inside a block is the module ``<residual>.<local name>`` (``residual_block_3.conv1``),
so its weights are ``residual_block_3.conv1.weight`` in ``state_dict``. The model's
``reset_parameters`` initializes them, in node order, as it does every other weight.
"""

from __future__ import annotations

from typing import Any

from normspec.backends import block_classes, blocks
from normspec.backends.block_classes import ClassWriter
from normspec.backends.codegen import INDENT, Call, Raw, statement
from normspec.backends.printing import Builder
from normspec.backends.recording import lay_out
from normspec.backends.templates import Template, parameters_of
from normspec.backends.torch import helpers
from normspec.backends.torch.dialect import DTYPE
from normspec.backends.torch.emitter import PRINTERS
from normspec.backends.torch.partials import NAME

POSITIONAL = {
    "nn.Linear": ("in_features", "out_features"),
    "nn.Conv1d": ("in_channels", "out_channels"),
    "nn.Conv2d": ("in_channels", "out_channels"),
    "nn.BatchNorm1d": ("num_features",),
    "nn.BatchNorm2d": ("num_features",),
    "nn.InstanceNorm1d": ("num_features",),
    "nn.InstanceNorm2d": ("num_features",),
    "nn.GroupNorm": ("num_groups", "num_channels"),
    "nn.LayerNorm": ("normalized_shape",),
}
"""The positional parameters of the ``torch.nn`` modules the printers pass numbers to."""


def positional(func: str) -> tuple[str, ...]:
    """The positional parameters of ``func``: a ``torch.nn`` module or a helper class."""
    if func in POSITIONAL:
        return POSITIONAL[func]
    if NAME.fullmatch(func):  # a partial of nn.BatchNorm<dims>d or nn.Conv<dims>d
        return ("num_features",) if func.startswith("batch_norm") else POSITIONAL["nn.Conv2d"]
    helper = helpers.HELPERS.get(func)
    return parameters_of(None if helper is None else helper.source, func)


def _arguments(template: Template) -> dict[str, Any]:
    return {"dtype": DTYPE} if block_classes.uses_raw(template, DTYPE.text) else {}


def _source(builder: Builder, template: Template, name: str) -> str:
    pad = INDENT * 2
    lines = [f"class {name}(nn.Module):", *block_classes.class_docstring(template), ""]
    args = [Raw("self"), *(Raw(f"{p.name}: {p.annotation}") for p in template.parameters)]
    if _arguments(template):
        args.append(Raw("dtype: torch.dtype"))
    lines += statement("", Call("def __init__", tuple((None, a) for a in args)), " -> None:", 1)
    lines.append(f"{pad}super().__init__()")
    init, forward = block_classes.sections(template)
    lines += lay_out(builder, init)
    lines += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    lines += [*lay_out(builder, forward), f"{pad}return x"]
    return "\n".join(lines)


WRITER = ClassWriter(
    printers=PRINTERS,
    positional=positional,
    reserved=frozenset({"self", "dtype", "x", "torch", "nn", "F", "math"}),
    arguments=_arguments,
    source=_source,
)


def nested_paths(instances: list[blocks.Instance]) -> dict[str, str]:
    """Node name -> the module path of its layer, for the nodes inside blocks."""
    return {
        name: f"{instance.name}.{path}"
        for instance in instances
        for name, path in blocks.member_paths(instance).items()
    }
