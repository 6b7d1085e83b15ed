"""The generated PyTorch module around the model class: header, imports, helpers, the class."""

from __future__ import annotations

import textwrap

from normspec import __version__
from normspec.backends import block_classes, blocks, names
from normspec.backends.codegen import INDENT, LINE_LENGTH
from normspec.backends.printing import Builder, emit_nodes
from normspec.backends.torch import helpers
from normspec.backends.torch.blocks import WRITER, nested_paths
from normspec.backends.torch.dialect import DIALECT
from normspec.backends.torch.emitter import PRINTERS
from normspec.backends.torch.partials import partials
from normspec.backends.torch.partials import source as partials_source
from normspec.errors import BackendError
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.ops import Shape
from normspec.ir.output_checks import logits_head, returns_logits

MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
        "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
        "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
        "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
        "named_modules", "named_parameters", "parameters", "register_backward_hook",
        "register_buffer", "register_forward_hook", "register_forward_pre_hook",
        "register_full_backward_hook", "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
        "register_module", "register_parameter", "register_state_dict_post_hook",
        "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
        "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
        "zero_grad", "reset_parameters",
    }
)  # fmt: skip
"""Attributes of ``torch.nn.Module`` (and of the generated class) an op name cannot take."""

_TAKEN_CLASS_NAMES = {*helpers.HELPERS, "Any", "F", "nn", "torch", "partial"}


def class_name(spec: CanonicalSpec) -> str:
    """``cifar_cnn`` -> ``CifarCnn``; ``...Model`` when that would clash with a helper, an
    import, a keyword or a builtin."""
    return names.class_name(spec, _TAKEN_CLASS_NAMES)


_KEEP = "\u00a0"
"""Joins the parts of a shape while a docstring is wrapped, so no line breaks inside it."""


def torch_shape(shape: Shape) -> str:
    """``(N, C, *spatial)`` for a channels-last shape without the batch axis."""
    dims = (*shape[-1:], *shape[:-1])
    return "(" + f",{_KEEP}".join(["N", *map(str, dims)]) + ")"


def block_instances(spec: CanonicalSpec) -> list[blocks.Instance]:
    """The residuals written as blocks: all but one holding the final activation that
    ``logits()`` leaves out."""
    return blocks.instances(
        spec.nodes, blocks.attribute_rule(MODULE_ATTRIBUTES), head=logits_head(spec) is not None
    )


def module_paths(spec: CanonicalSpec) -> dict[str, str]:
    """Node name -> the path of its module in the model (``residual_block_3.conv1`` inside a
    block, the node's name elsewhere), as ``get_submodule`` takes it."""
    paths = {node.name: node.name for node in spec.nodes}
    return paths | nested_paths(block_instances(spec))


def emit_module(spec: CanonicalSpec) -> str:
    """The whole generated module for ``spec``."""
    names.check_names(spec, "torch")
    _check_names(spec)
    builder = Builder(spec, DIALECT, names.Names(spec))
    taken = {*_TAKEN_CLASS_NAMES, class_name(spec)}
    classes = block_classes.block_classes(spec, block_instances(spec), builder, WRITER, taken)
    body = spec.nodes[:-1] if logits_head(spec) is not None else spec.nodes
    values = emit_nodes(builder, body, PRINTERS, blocks=classes.uses)
    split = len(builder.forward_lines)
    if body != spec.nodes:  # the head goes in forward, after logits()
        emit_nodes(builder, spec.nodes[-1:], PRINTERS, variables=values)
    used = helpers.closure(builder.helpers | classes.helpers)
    needs = {n for h in used for n in helpers.HELPERS[h].needs if n in helpers.IMPORTS}
    shared = list(partials(spec).values())
    parts = [
        _imports(needs | ({"partial"} if shared else set())),
        *(helpers.HELPERS[h].source.strip("\n") for h in used),
        *([partials_source(shared)] if shared else []),
        *classes.sources,
        _model_class(spec, builder, split),
    ]
    return names.parsed(_header(spec) + "\n\n" + "\n\n\n".join(parts) + "\n", "torch")


def _check_names(spec: CanonicalSpec) -> None:
    for node in spec.nodes:
        if node.op.name in MODULE_ATTRIBUTES:
            raise BackendError(
                f"torch backend cannot name op '{node.op.name}' ({node.op.op}): the name is an "
                "attribute of torch.nn.Module; rename the layer"
            )


def _docstring(text: str, indent: str = "") -> list[str]:
    """``text`` as a docstring wrapped to the line length, closing quotes included."""
    lines = textwrap.wrap(
        text, LINE_LENGTH - 3, initial_indent=indent + '"""', subsequent_indent=indent
    )
    lines = [line.replace(_KEEP, " ") for line in lines]
    if len(lines[-1]) + 3 <= LINE_LENGTH:
        return [*lines[:-1], lines[-1] + '"""']
    return [*lines, indent + '"""']


def _header(spec: CanonicalSpec) -> str:
    comments = [
        f"# Generated by normspec {__version__}; edit the spec, not this file.",
        f"# Spec: {spec.name!r}",
        f"# Spec hash: {spec.hash}",
    ]
    summary = (
        f"PyTorch model of the spec {spec.name!r}: {class_name(spec)} takes channels-first "
        f"input {torch_shape(spec.input.shape)} and returns {torch_shape(spec.output_shape)}, "
        f"in {spec.input.dtype}."
    )
    notes = (
        "Layers carry the canonical op names. Canonical (portable) weights are channels-last: "
        "a Linear weight is the transposed dense kernel (in, out), a convolution weight "
        "(out, in, *kernel) is the kernel (*kernel, in, out) with its axes moved, and flatten "
        "keeps the channels-last feature order of the canonical weights. On NVIDIA GPUs "
        "PyTorch runs float32 convolutions in TF32 unless torch.backends.cudnn.allow_tf32 "
        "is False, as normspec's parity checks set it."
    )
    notes += _max_pool_note(spec)
    doc = [*_docstring(summary)[:-1], _docstring(summary)[-1].removesuffix('"""'), ""]
    doc += [*textwrap.wrap(notes, LINE_LENGTH), '"""']
    return "\n".join([*comments, *doc])


def _max_pool_note(spec: CanonicalSpec) -> str:
    """normspec's rule for the gradient of tied maxima, when the model has a max pool."""
    ops = {type(node.op) for node in spec.nodes}
    note = ""
    if ops & {ir.MaxPool1D, ir.MaxPool2D}:
        note += (
            " A max pool sends each window's gradient to the window's first largest cell in "
            "row-major order (overlapping windows add theirs up), PyTorch's rule and "
            "normspec's convention in every framework."
        )
    if ir.GlobalMaxPool in ops:
        note += " A global max pool (amax) splits its gradient evenly among tied largest cells."
    return note


def _imports(needs: set[str]) -> str:
    lines = ["import math"] if "math" in needs else []
    lines += ["from functools import partial"] if "partial" in needs else []
    lines += ["from typing import Any"] if "Any" in needs else []
    lines += [""] if lines else []
    lines.append("import torch")
    if "F" in needs:
        lines.append("import torch.nn.functional as F")
    lines.append("from torch import nn")
    return "\n".join(lines)


_LOSS_OF_HEAD = {"softmax": "nn.CrossEntropyLoss", "sigmoid": "nn.BCEWithLogitsLoss"}
_PROBABILITIES = {
    "softmax": "The class probabilities: the final softmax",
    "sigmoid": "The probabilities: the final sigmoid",
}


def _model_class(spec: CanonicalSpec, b: Builder, split: int) -> str:
    pad = INDENT * 2
    head = logits_head(spec)
    doc = (
        f"The network of the spec {spec.name!r}: {torch_shape(spec.input.shape)} -> "
        f"{torch_shape(spec.output_shape)}."
    )
    if head is not None and returns_logits(spec):
        doc += (
            f" ``forward`` returns logits, what enters the final {head.function} (the spec "
            f"says ``output: {{logits: true}}``), which ``{_LOSS_OF_HEAD[head.function]}`` "
            f"expects; ``probabilities`` applies that {head.function}. "
            "``torch.compile(model)`` compiles ``forward``, the logits."
        )
    elif head is not None:
        doc += (
            f" ``forward`` returns the spec's output, after its final {head.function}; "
            f"``logits`` returns what enters that {head.function}, which "
            f"``{_LOSS_OF_HEAD[head.function]}`` expects (it applies the {head.function} "
            "itself, so do not give it ``forward``'s output)."
        )
    doc_lines = _docstring(doc, INDENT)
    lines = [f"class {class_name(spec)}(nn.Module):", *doc_lines, ""]
    signature = f"def __init__(self, dtype: torch.dtype = torch.{spec.input.dtype}) -> None:"
    lines.append(INDENT + signature)
    lines += [f"{pad}super().__init__()", *b.init_lines]
    if b.reset_lines:
        lines += [f"{pad}self.reset_parameters()", ""]
        lines.append(f"{INDENT}def reset_parameters(self) -> None:")
        lines.append(f'{pad}"""Draw the initial weights from the spec\'s initializers."""')
        lines += b.reset_lines
    if head is None:
        lines += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
        lines += [*b.forward_lines, f"{pad}return x"]
        return "\n".join(lines)
    if returns_logits(spec):
        lines += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
        lines += [*b.forward_lines[:split], f"{pad}return x"]
        lines += ["", f"{INDENT}def probabilities(self, x: torch.Tensor) -> torch.Tensor:"]
        lines += [f'{pad}"""{_PROBABILITIES[head.function]} of ``forward``\'s logits."""']
        lines += [f"{pad}x = self.forward(x)", *b.forward_lines[split:], f"{pad}return x"]
        return "\n".join(lines)
    lines += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    lines += [f"{pad}x = self.logits(x)", *b.forward_lines[split:], f"{pad}return x"]
    lines += ["", f"{INDENT}def logits(self, x: torch.Tensor) -> torch.Tensor:"]
    lines += [f'{pad}"""The output before the final {head.function}."""']
    lines += [*b.forward_lines[:split], f"{pad}return x"]
    return "\n".join(lines)
