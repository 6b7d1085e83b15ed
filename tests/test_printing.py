"""The shared printer pieces (:mod:`normspec.backends.printing`, :class:`Names`): one ``Site``
and one ``Builder`` for every backend, which differ only in their dialect."""

from __future__ import annotations

import pytest

import normspec
from normspec.backends.codegen import Raw, call
from normspec.backends.flax.dialect import DIALECT as FLAX
from normspec.backends.keras.dialect import DIALECT as KERAS
from normspec.backends.names import Names
from normspec.backends.printing import Builder, Printers, Site, emit_nodes
from normspec.backends.torch.dialect import DIALECT as TORCH
from normspec.ir import ops as ir
from normspec.ir.registry import DuplicateRegistration

SPEC = "normspec: 1\nname: tiny\ninput: {shape: [4]}\nlayers:\n  - dense: {units: 2, name: fc}\n"


def site(dialect, dtype: str = "float32", capture: str | None = None) -> Site:
    spec = normspec.load(SPEC.replace("{shape: [4]}", f"{{shape: [4], dtype: {dtype}}}"))
    return Site(Builder(spec, dialect, Names(spec)), "x", "x", (4,), 0, capture)


def test_a_layer_is_an_attribute_where_the_dialect_says_so() -> None:
    s = site(TORCH)
    s.layer("fc", call("nn.Linear", 4, 2))
    assert s.builder.init_lines == ["        self.fc = nn.Linear(4, 2)"]
    assert s.builder.forward_lines == ["        x = self.fc(x)"]


@pytest.mark.parametrize(("dtype", "suffix"), [("float32", ""), ("float64", ", dtype=DTYPE")])
def test_keras_builds_the_layer_in_place_named_and_typed(dtype: str, suffix: str) -> None:
    s = site(KERAS, dtype)
    s.layer("fc", call("layers.Dense", units=2))
    assert s.builder.init_lines == []
    assert s.builder.forward_lines == [f'    x = layers.Dense(units=2, name="fc"{suffix})(x)']
    assert s.builder.last_layer == "fc"


def test_flax_sows_top_level_outputs_only() -> None:
    top, inner = site(FLAX, capture="fc"), site(FLAX)
    for s in (top, inner):
        s.layer("fc", call("nnx.Linear", 4, 2))
    assert top.builder.forward_lines[-1] == '        self.sow(nnx.Intermediate, "fc", x)'
    assert inner.builder.forward_lines == ["        x = self.fc(x)"]


NESTED = """
normspec: 1
name: nested
input: {shape: [4]}
layers:
  - dense: {units: 4, name: fc}
  - residual:
      name: outer
      body:
        - dense: {units: 4, name: a}
        - residual: {name: inner, body: [{dense: {units: 4, name: b}}]}
      shortcut: [{dense: {units: 4, name: s}}]
"""


def test_nodes_write_their_scope_variable_and_joins_read_both_branches() -> None:
    """Top-level values go to ``x``; a branch's nodes to its variable, numbered with the
    depth; each residual's opening is written once, before its first node."""
    spec = normspec.load(NESTED)
    builder = Builder(spec, TORCH, Names(spec))
    printers = Printers("Test")

    def show(op, site: Site) -> None:  # type: ignore[no-untyped-def]
        joined = Raw(" + ".join(site.inputs))
        site.result(joined if len(site.inputs) > 1 else call(op.name, site.x))

    printers.register(*{type(node.op) for node in spec.nodes})(show)
    opened: list[tuple[str, bool]] = []
    printers.opens(lambda b, residual, has_shortcut: opened.append((residual, has_shortcut)))
    values = emit_nodes(builder, spec.nodes, printers)
    assert [line.strip() for line in builder.forward_lines] == [
        "x = fc(x)",
        "out = a(x)",
        "out2 = b(out)",
        "out = out2 + out",
        "shortcut = s(x)",
        "x = out + shortcut",
    ]
    assert opened == [("outer", True), ("inner", False)]
    assert values[spec.output_name] == "x"


def test_long_comments_are_wrapped_to_the_line_length() -> None:
    s = site(KERAS)
    s.builder.comment("word " * 30)
    assert len(s.builder.forward_lines) > 1
    assert all(len(line) <= 88 and line.startswith("    # ") for line in s.builder.forward_lines)


def test_names_shorten_long_and_reserved_names_and_number_extra_layers() -> None:
    spec = normspec.load(
        "normspec: 1\nname: n\ninput: {shape: [4]}\nlayers:\n"
        f"  - dense: {{units: 2, name: {'d' * 20}}}\n  - dense: {{units: 2, name: sow}}\n"
    )
    names = Names(spec, reserved=frozenset({"sow"}), max_length=12)
    assert names.short == {"d" * 20: "dddd_layer", "sow": "sow_layer"}
    assert names.derived("sow", "pad") == "sow_pad"
    assert names.derived("sow", "pad") == "sow_pad2"
    assert Names(spec).short == {"d" * 20: "d" * 20, "sow": "sow"}


def test_a_second_printer_for_an_op_raises() -> None:
    printers = Printers("Test")
    printers.register(ir.Dense)(lambda op, site: None)
    with pytest.raises(DuplicateRegistration):
        printers.register(ir.Dense)(lambda op, site: None)
