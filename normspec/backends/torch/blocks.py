"""PyTorch block classes: every residual of the spec is an ``nn.Module`` of its own, one class per
set of residuals that differ only in numbers (:mod:`normspec.backends.blocks`), which the model
instantiates as an attribute named after the residual (``self.residual_block_3 =
ResidualBlockWithShortcut(in_channels=64, out_channels=128, dtype=dtype)``).

A node inside a block is the module ``<residual>.<local name>`` (``residual_block_3.conv1``),
so its weights are ``residual_block_3.conv1.weight`` in ``state_dict``. The model's
``reset_parameters`` initializes them, in node order, as it does every other weight.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass

from normspec.backends import blocks
from normspec.backends.blocks import Instance, Statement, Template
from normspec.backends.codegen import INDENT, LINE_LENGTH, Call, Raw, call, statement
from normspec.backends.names import Names
from normspec.backends.printing import BlockUse, Builder, Site, emit_nodes
from normspec.backends.torch import helpers
from normspec.backends.torch.dialect import DIALECT, DTYPE
from normspec.backends.torch.emitter import PRINTERS
from normspec.ir.graph import CanonicalSpec

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
    helper = helpers.HELPERS.get(func)
    if helper is None:
        return ()
    for node in ast.walk(ast.parse(helper.source)):
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return tuple(arg.arg for arg in node.args.args[1:])
    return ()


RESERVED = frozenset({"self", "dtype", "x", "torch", "nn", "F"})
"""Names a constructor parameter cannot take."""


@dataclass
class Blocks:
    """The block classes of a spec: each class's source, and the call of each instance."""

    sources: list[str]
    uses: list[BlockUse]
    helpers: set[str]


def block_classes(
    spec: CanonicalSpec, instances: list[Instance], builder: Builder, taken: set[str]
) -> Blocks:
    """The classes of ``instances`` (see the module docstring); ``builder`` is the model's,
    which the uses print into; class names avoid ``taken``."""
    recorders = [_record(spec, instance) for instance in instances]
    groups: dict[str, list[int]] = {}
    for index, rec in enumerate(recorders):
        groups.setdefault(repr(_key(rec)), []).append(index)
    templates = [
        blocks.parametrize(
            tuple(instances[i] for i in members),
            [_class_items(recorders[i]) for i in members],
            positional,
            RESERVED,
        )
        for members in groups.values()
    ]
    names = blocks.class_names(templates, taken)
    uses: list[BlockUse] = []
    for template, name in zip(templates, names, strict=True):
        for k, instance in enumerate(template.instances):
            rec = recorders[instances.index(instance)]
            uses.append(_use(builder, instance, name, template.arguments(k), rec, template))
    sources = [_source(builder, t, name) for t, name in zip(templates, names, strict=True)]
    used = {h for rec in recorders for h in rec.helpers}
    return Blocks(sources, uses, used)


def _record(spec: CanonicalSpec, instance: Instance) -> blocks.Recorder:
    nodes = instance.local_nodes()
    rec = blocks.Recorder(spec, DIALECT, Names.local(node.name for node in nodes))
    emit_nodes(rec, nodes, PRINTERS, quiet=frozenset({blocks.ADD}))
    return rec


def _class_items(rec: blocks.Recorder) -> list[Statement | str]:
    return [*rec.statements(rec.init_lines), "", *rec.statements(rec.forward_lines)]


def _key(rec: blocks.Recorder) -> tuple[object, ...]:
    """Instances with equal keys share a class: equal ``__init__`` but for numbers, and an
    equal ``forward``."""
    return blocks.skeleton(rec.statements(rec.init_lines)), rec.statements(rec.forward_lines)


def _use(
    builder: Builder,
    instance: Instance,
    name: str,
    arguments: dict[str, object],
    rec: blocks.Recorder,
    template: Template,
) -> BlockUse:
    def write(site: Site) -> None:
        extra = {"dtype": DTYPE} if _uses_dtype(template) else {}
        site.layer(instance.name, call(name, **arguments, **extra))
        attribute = builder.names.short[instance.name]

        def nested(text: str) -> str:
            return f"self.{attribute}." + text.removeprefix("self.")

        resets = [
            Statement(s.prefix, blocks.replace_raw(s.value, nested), s.suffix)
            if isinstance(s, Statement)
            else s
            for s in rec.statements(rec.reset_lines)
        ]
        builder.reset_lines += blocks.lay_out(builder, resets)

    return BlockUse(tuple(node.name for node in instance.nodes), write)


def _uses_dtype(template: Template) -> bool:
    return any(
        DTYPE.text in blocks.raw_texts(item.value)
        for item in template.statements
        if isinstance(item, Statement)
    )


def _source(builder: Builder, template: Template, name: str) -> str:
    first = template.instances[0]
    users = ", ".join(i.name for i in template.instances)
    doc = f"The block of {users}: {blocks.describe(first)}."
    pad = INDENT * 2
    lines = [f"class {name}(nn.Module):", *_docstring(doc), ""]
    args = [Raw("self"), *(Raw(f"{p.name}: {p.annotation}") for p in template.parameters)]
    if _uses_dtype(template):
        args.append(Raw("dtype: torch.dtype"))
    lines += statement("", Call("def __init__", tuple((None, a) for a in args)), " -> None:", 1)
    lines.append(f"{pad}super().__init__()")
    split = template.statements.index("")
    lines += blocks.lay_out(builder, template.statements[:split])
    lines += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    lines += blocks.lay_out(builder, template.statements[split + 1 :])
    lines.append(f"{pad}return x")
    return "\n".join(lines)


def _docstring(text: str) -> list[str]:
    lines = textwrap.wrap(
        text, LINE_LENGTH - 3, initial_indent=INDENT + '"""', subsequent_indent=INDENT
    )
    if len(lines[-1]) + 3 <= LINE_LENGTH:
        return [*lines[:-1], lines[-1] + '"""']
    return [*lines, INDENT + '"""']


def nested_paths(instances: list[Instance]) -> dict[str, str]:
    """Node name -> the module path of its layer, for the nodes inside blocks."""
    return {
        node.name: f"{instance.name}.{instance.local[node.name]}"
        for instance in instances
        for node in instance.nodes
    }
