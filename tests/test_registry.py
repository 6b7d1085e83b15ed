"""The op registry: every concrete op class is registered once, and the op union is built from it."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import TypeAdapter

from normspec.ir import ops as ir
from normspec.ir.registry import DuplicateRegistration, Registry


def _concrete_subclasses(cls: type[ir.Op]) -> set[type[ir.Op]]:
    out: set[type[ir.Op]] = set()
    for sub in cls.__subclasses__():
        concrete = isinstance(sub.model_fields["op"].default, str)  # a base has no op key
        if sub.__module__.startswith(ir.__name__) and concrete:
            out.add(sub)
        out |= _concrete_subclasses(sub)
    return out


def test_every_op_class_of_the_ir_is_registered_under_its_key() -> None:
    assert set(ir.OP_CLASSES) == _concrete_subclasses(ir.Op)
    for key, cls in ir.OPS.items():
        assert cls.model_fields["op"].default == key
    assert len(ir.OP_CLASSES) == len(set(ir.OP_CLASSES))


def test_a_second_class_with_a_registered_op_key_raises() -> None:
    before = dict(ir.OPS)

    class Dense2(ir.Op):
        op: Literal["dense"] = "dense"

    with pytest.raises(DuplicateRegistration, match="op for 'dense' registered twice"):
        ir.register_op(Dense2)
    assert dict(ir.OPS) == before


def test_the_op_union_reads_every_registered_op_by_its_key() -> None:
    adapter: TypeAdapter[ir.Op] = TypeAdapter(ir.AnyOp)
    flatten = adapter.validate_python({"op": "flatten", "name": "f", "shape": (12,)})
    assert type(flatten) is ir.Flatten
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        adapter.validate_python({"op": "no_such_op", "name": "f", "shape": (12,)})


def test_registry_keeps_order_and_refuses_duplicates() -> None:
    table: Registry[str, int] = Registry("number")
    table.add("one", 1)
    table.decorator("two", "deux")(2)
    assert list(table.items()) == [("one", 1), ("two", 2), ("deux", 2)]
    with pytest.raises(DuplicateRegistration, match="number for 'two' registered twice"):
        table.add("two", 3)
    assert table["two"] == 2 and len(table) == 3


def test_each_weight_is_keyed_by_its_op_and_role_and_trains_as_its_role_says() -> None:
    import normspec
    from conftest import SPECS
    from normspec.ir.roles import MEAN, ROLES, STD, VAR

    seen = set()
    for path in SPECS:
        spec = normspec.load(path)
        for site in spec.nodes:
            for w in site.op.weights(site.input_shape):
                assert w.key == f"{site.op.name}.{w.role.name}"
                assert ROLES[w.role.name] is w.role
                assert w.trainable is (w.role not in (MEAN, VAR, STD))
                seen.add(w.role.name)
    assert seen == set(ROLES)


def test_each_op_infers_the_shape_canonicalization_gave_it() -> None:
    import normspec
    from conftest import SPECS

    for path in SPECS:
        for site in normspec.load(path).nodes:
            op = site.op
            inferred = (
                op.combine(site.input_shapes)
                if isinstance(op, ir.Join)
                else op.infer_shape(site.input_shape)
            )
            assert inferred == op.shape, (path, op.name)
