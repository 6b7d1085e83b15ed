"""Assembly of the emitted Keras module: header, imports, constants, custom layers, builder."""

from __future__ import annotations

import ast
import builtins
import keyword
import textwrap
from dataclasses import dataclass

from normspec.backends import block_classes, blocks, names
from normspec.backends.codegen import LINE_LENGTH, Raw, call, string_literal
from normspec.backends.keras.blocks import WRITER
from normspec.backends.keras.codegen import statement
from normspec.backends.keras.dialect import DIALECT, DTYPE, RESERVED
from normspec.backends.keras.emitter import PRINTERS
from normspec.backends.keras.helpers import HELPERS, helper_source
from normspec.backends.printing import Builder, emit_nodes
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.output_checks import logits_head, returns_logits


@dataclass(frozen=True)
class KerasModule:
    """The emitted source and what the runtime needs to drive the model it builds."""

    source: str
    builder: str
    """Name of the function that returns the ``keras.Model``."""
    output_layers: dict[str, str]
    """Op name (every op, residual children too) -> name of the Keras layer whose output is that
    op's output (for a model that returns logits, the final activation's layer is in its
    probability model)."""
    probability_model: str | None = None
    """Name of the function that adds the final softmax/sigmoid to a model returning logits."""


def block_instances(spec: CanonicalSpec) -> list[blocks.Instance]:
    """The residuals written as block functions (:mod:`normspec.backends.keras.blocks`): all
    but one holding the final activation that the probability model adds."""
    return blocks.instances(spec.nodes, lambda name: True, head=returns_logits(spec))


def _function_names(spec: CanonicalSpec) -> set[str]:
    """Names a block function cannot take: the module's helpers, builders, imports and
    variables, Python's keywords and builtins."""
    module = {builder_name(spec), PROBABILITY_MODEL, "keras", "layers", "ops", "math", "x"}
    defined = {
        node.name
        for h in HELPERS
        for node in ast.parse(helper_source(h)).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    return {*defined, *module, "inputs", *keyword.kwlist, *dir(builtins)}


def generate(spec: CanonicalSpec) -> KerasModule:
    names.check_names(spec, "keras")
    builder = Builder(spec, DIALECT, names.Names(spec, taken=RESERVED))
    logits = returns_logits(spec)
    taken = {*HELPERS, *map(blocks.camel, _function_names(spec))}
    classes = block_classes.block_classes(
        spec, block_instances(spec), builder, WRITER, taken, limit=lambda instance: 40
    )
    builder.helpers |= classes.helpers
    body = spec.nodes[:-1] if logits else spec.nodes
    values = emit_nodes(builder, body, PRINTERS, src="inputs", blocks=classes.uses)
    result = values[body[-1].name] if body else "inputs"
    lines, builder.forward_lines = builder.forward_lines, []
    if logits:  # the final activation goes in probability_model()
        emit_nodes(builder, spec.nodes[-1:], PRINTERS, variables=values)
    name = builder_name(spec)
    parts = [
        _header(spec, builder, name),
        _imports(builder.helpers),
        _constants(spec, builder.helpers),
        *(helper_source(h) for h in HELPERS if h in builder.helpers),
        *classes.sources,
        _builder(spec, name, lines, result),
        *([_probability_model(spec, builder.forward_lines)] if logits else []),
    ]
    source = names.parsed("\n\n".join(parts), "keras")
    return KerasModule(source, name, builder.layer_of, PROBABILITY_MODEL if logits else None)


def builder_name(spec: CanonicalSpec) -> str:
    """``build_<spec name>``, or ``build_model`` when that would not fit on the def line."""
    name = f"build_{spec.name}"
    return name if len(f"def {name}() -> keras.Model:") <= LINE_LENGTH else "build_model"


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, LINE_LENGTH, break_long_words=False, break_on_hyphens=False)


_STOCK_LOSS = {"softmax": "SparseCategoricalCrossentropy", "sigmoid": "BinaryCrossentropy"}
PROBABILITY_MODEL = "probability_model"


def _loss_note(spec: CanonicalSpec) -> list[str]:
    head = logits_head(spec)
    if head is None:
        return []
    if returns_logits(spec):
        return ["", *_paragraph(
            f"The model returns logits, what enters its final {head.function} (the spec "
            "says ``output: {logits: true}``): compile it with "
            f"``keras.losses.{_STOCK_LOSS[head.function]}(from_logits=True)``. "
            f"``{PROBABILITY_MODEL}(model)`` is the model followed by that {head.function}, "
            "over the same layers and weights: its ``predict`` gives the probabilities."
        )]  # fmt: skip
    return ["", *_paragraph(
        f"The model's output is the spec's, after its final {head.function}: "
        f"``keras.losses.{_STOCK_LOSS[head.function]}()`` reads it as it is "
        "(``from_logits=False``, the default)."
    )]  # fmt: skip


def _header(spec: CanonicalSpec, builder: Builder, name: str) -> str:
    from normspec import __version__

    shape = ", ".join(str(n) for n in spec.input.shape)
    lines = [
        f"# Generated by normspec {__version__}: edit the spec and regenerate, not this file.",
        f"# Spec: {spec.name!r}",
        f"# Spec hash: {spec.hash}",
        *_paragraph(
            f'"""Keras 3 model {spec.name!r}: channels-last input ({shape}), {spec.input.dtype}.'
        ),
        "",
        *_paragraph(
            f"``{name}()`` returns a functional ``keras.Model`` whose layers carry the op "
            "names of the spec. Every numeric convention is written out instead of being "
            "left to a Keras default: epsilons, momenta, padding, initializers."
        ),
        "",
        *_paragraph(_dtype_note(spec)),
        *_loss_note(spec),
        *_convention_notes(spec, builder),
        *_saving_notes(spec, builder.helpers),
        "",
        *_paragraph(
            "normspec checks this module on the TensorFlow backend "
            "(``KERAS_BACKEND=tensorflow``). On recent NVIDIA GPUs TensorFlow computes float32 "
            "matrix products and convolutions in TF32 unless "
            "``tf.config.experimental.enable_tensor_float_32_execution(False)``, as normspec's "
            "parity checks set it."
        ),
        '"""',
    ]
    return "\n".join(lines)


def _dtype_note(spec: CanonicalSpec) -> str:
    if spec.input.dtype == "float64":
        return (
            "Every layer is built with ``dtype=DTYPE`` (float64), whatever Keras' global "
            "dtype policy says."
        )
    return (
        "The input is float32; the layers follow Keras' global dtype policy, float32 "
        "unless set otherwise: after "
        '``keras.mixed_precision.set_global_policy("mixed_float16")`` they compute in '
        "float16 and keep their variables in float32."
    )


def _convention_notes(spec: CanonicalSpec, builder: Builder) -> list[str]:
    notes = []
    if any(isinstance(node.op, ir.BatchNorm) for node in spec.nodes):
        notes += [
            "- BatchNormalization ``momentum`` is Keras' weight of the old moving value:",
            "  1 - the spec's momentum (the weight of the new batch statistic).",
        ]
    if "padding" in builder.notes:
        notes += [
            '- ``padding="same"`` is TensorFlow\'s rule (an odd total puts the extra cell at',
            "  the end); any other padding is written out as a layer of its own.",
        ]
    if any(isinstance(node.op, ir.MaxPool1D | ir.MaxPool2D) for node in spec.nodes):
        notes += [
            "- MaxPooling sends each window's gradient to the window's first largest cell in",
            "  row-major order (overlapping windows add theirs up), as PyTorch does.",
        ]
    if any(isinstance(node.op, ir.GlobalMaxPool) for node in spec.nodes):
        notes += ["- GlobalMaxPooling splits its gradient evenly among tied largest cells."]
    if any(isinstance(node.op, ir.Flatten) for node in spec.nodes):
        notes += ["- Flatten keeps the channels-last order, the one the dense kernels expect."]
    return ["", "Conventions:", "", *notes] if notes else []


def _saving_notes(spec: CanonicalSpec, helpers: set[str]) -> list[str]:
    """How a saved ``.keras`` file of this model loads back: only after this module's import."""
    if not helpers:
        return []
    classes = ", ".join(h for h in HELPERS if h in helpers and HELPERS[h].is_class)
    return [
        "",
        *_paragraph(
            f"Saving: importing this module registers its custom classes ({classes}) "
            f"with Keras under the package {spec.name!r} (``PACKAGE``). A ``.keras`` file "
            "saved from the model (``model.save(...)``) loads with "
            "``keras.saving.load_model(...)`` in any process that has imported this module "
            "first; no ``custom_objects`` are needed. Without the import Keras cannot find "
            "the classes and refuses to load the file."
        ),
    ]


def _imports(helpers: set[str]) -> str:
    used = set().union(*(HELPERS[h].imports for h in helpers))
    keras_names = ", ".join(["layers", *(["ops"] if "ops" in used else [])])
    lines = ["import math", ""] if "math" in used else []
    return "\n".join([*lines, "import keras", f"from keras import {keras_names}"])


def _constants(spec: CanonicalSpec, helpers: set[str]) -> str:
    lines = [f"DTYPE = {string_literal(spec.input.dtype)}"]
    if helpers:
        lines += [
            "# The custom layers below register under this name, so saved models load back.",
            f"PACKAGE = {string_literal(spec.name)}",
        ]
    return "\n".join(lines) + "\n"


def _builder(spec: CanonicalSpec, name: str, body: list[str], result: str) -> str:
    shape_in = ", ".join(["batch", *(str(n) for n in spec.input.shape)])
    shape_out = ", ".join(["batch", *(str(n) for n in spec.output_shape)])
    doc = f'    """The {spec.name!r} network: ({shape_in}) -> ({shape_out})."""'
    if len(doc) > LINE_LENGTH:
        doc = '    """The network of the spec, channels-last in and out."""'
    inputs = call("keras.Input", shape=spec.input.shape, dtype=DTYPE, name="input")
    model = call("keras.Model", inputs=Raw("inputs"), outputs=Raw(result), name=spec.name)
    lines = [
        f"def {name}() -> keras.Model:",
        doc,
        *statement("inputs = ", inputs),
        *body,
        *statement("return ", model),
    ]
    return "\n".join(lines) + "\n"


def _probability_model(spec: CanonicalSpec, body: list[str]) -> str:
    """``probability_model(model)``: ``model`` (returning logits) and the final activation."""
    head = spec.nodes[-1].op
    assert isinstance(head, ir.Activation)
    name = f"{spec.name}_probabilities"
    model = call("keras.Model", inputs=Raw("model.inputs"), outputs=Raw("x"), name=name)
    lines = [
        f"def {PROBABILITY_MODEL}(model: keras.Model) -> keras.Model:",
        f'    """``model``, which returns logits, followed by its final {head.function}."""',
        "    x = model.outputs[0]",
        *body,
        *statement("return ", model),
    ]
    return "\n".join(lines) + "\n"
