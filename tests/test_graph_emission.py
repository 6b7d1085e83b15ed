"""Any canonical graph is emitted by every backend, not only chains with residuals: a value
read again later (a skip over several nodes, the input read by a join, a join of three) keeps
its own variable, and every node's output matches the reference in eval and train mode."""

from __future__ import annotations

from typing import Any

import pytest

import normspec
from normspec.backends import get_backend
from normspec.ir.graph import CanonicalSpec
from normspec.ir.nodes import INPUT
from parity_cases import check_against_reference, make_spec
from test_backends_shared import BACKENDS, available

CHAIN = """\
- conv2d: {filters: 2, padding: 1, name: a, norm: batch, activation: relu}
- conv2d: {filters: 2, padding: 1, name: b}
- activation: {function: tanh, name: t}
- flatten: {name: flat}
- dense: {units: 3, activation: softmax, name: head}"""


def skip_graph(dtype: str = "float64") -> CanonicalSpec:
    """``t + a_relu + input`` after the second conv: a join of three values, two of them
    computed well before it."""
    chain = make_spec("[5, 5, 2]", CHAIN, dtype=dtype)
    data = chain.model_dump()
    nodes: list[dict[str, Any]] = list(data["nodes"])
    data["nodes"] = nodes
    at = next(i for i, n in enumerate(nodes) if n["op"]["name"] == "t") + 1
    shape = nodes[at - 1]["op"]["shape"]
    join = {"op": {"op": "add", "name": "sum", "shape": shape, "params": 0}}
    join |= {"inputs": ("t", "a_relu", INPUT), "input_shapes": (shape,) * 3, "scope": ()}
    nodes.insert(at, join)
    nodes[at + 1] |= {"inputs": ("sum",)}
    return CanonicalSpec.model_validate(data)


def test_the_graph_is_what_it_says() -> None:
    spec = skip_graph()
    assert [(n.name, n.inputs) for n in spec.nodes][4:7] == [
        ("t", ("b",)),
        ("sum", ("t", "a_relu", INPUT)),
        ("flat", ("sum",)),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_backend_runs_a_graph_with_skips(backend: str, dtype: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    check_against_reference(get_backend(backend), skip_graph(dtype))


@pytest.mark.parametrize(
    ("backend", "lines"),
    [
        ("torch", ["inputs = x", "a_relu_out = self.a_relu(x)", "x = x + a_relu_out + inputs"]),
        ("keras", ["a_relu_out = layers.", "[x, a_relu_out, inputs]"]),
        ("flax", ["inputs = x", "a_relu_out = nnx.relu(x)", "x = x + a_relu_out + inputs"]),
    ],
)
def test_a_value_read_again_later_keeps_its_own_variable(backend: str, lines: list[str]) -> None:
    source = normspec.emit(skip_graph(), backend)
    for line in lines:
        assert line in source, (line, source)


def test_show_lists_a_join_of_its_own_as_a_row() -> None:
    from normspec.summary import rows

    listed = [(row.name, row.op, row.depth) for row in rows(skip_graph())]
    assert ("sum", "add", 0) in listed
    assert all(op != "residual" for _, op, _ in listed)


def test_a_graph_version_1_cannot_write_has_no_version_1_hash() -> None:
    """No weight file of version 1 can be for it: only its own hash is accepted."""
    spec = skip_graph()
    assert spec.version1_hash is None and spec.hashes == (spec.hash,)
    chain = make_spec("[5, 5, 2]", CHAIN)
    assert chain.version1_hash is not None and len(chain.hashes) == 2
