"""Classes with parameters: the statements of several blocks (recorded, see
:mod:`normspec.backends.recording`) that are the same but for numbers become one
:class:`Template`, each number that differs between them a constructor parameter, one per
distinct sequence of values across the blocks (in a basic block without projection the
convolutions' input and output channels and the norms' features are one ``channels``), named
after the argument it fills. Where layers keep the spec's names (Keras), a layer name that is
each block's name plus one suffix becomes ``f"{name}<suffix>"``."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from normspec.backends.blocks import Instance
from normspec.backends.codegen import Call, Raw
from normspec.backends.recording import Statement


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_leaf(value: Any) -> bool:
    """A number or a string: what may differ between the instances of one class."""
    return _is_number(value) or isinstance(value, str)


@dataclass(frozen=True)
class Slot:
    """Where a number sits: the call it is an argument of, and the argument."""

    func: str
    key: str | None
    position: int


def _numbers(value: Any, where: Slot | None = None) -> Iterator[tuple[Slot | None, Any]]:
    """Every leaf (number or string) of ``value`` in order, with where it sits."""
    if _is_leaf(value):
        yield where, value
    elif isinstance(value, Call):
        position = 0
        for key, arg in value.args:
            yield from _numbers(arg, Slot(value.func, key, position))
            position += key is None
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _numbers(item, where)


def _substitute(value: Any, numbers: Iterator[Any]) -> Any:
    """``value`` with its leaves replaced, in order, by the next of ``numbers``."""
    if _is_leaf(value):
        return next(numbers)
    if isinstance(value, Call):
        return Call(value.func, tuple((k, _substitute(v, numbers)) for k, v in value.args))
    if isinstance(value, tuple | list):
        return type(value)(_substitute(v, numbers) for v in value)
    return value


def skeleton(items: Iterable[Statement | str], name: str | None = None) -> tuple[Any, ...]:
    """``items`` with every number masked, and every string naming the instance ``name`` (a
    layer name ``<name>_conv1`` where layers keep the spec's names): instances with equal
    skeletons share a class."""

    def masked(value: Any) -> Any:
        if _is_number(value):
            return Raw("#")
        if name is not None and isinstance(value, str) and _suffix(value, name) is not None:
            return Raw("#name" + value[len(name) :])
        return value

    def walk(value: Any) -> Any:
        return _substitute(value, (masked(leaf) for _, leaf in list(_numbers(value))))

    return tuple(
        Statement(i.prefix, walk(i.value), i.suffix) if isinstance(i, Statement) else i
        for i in items
    )


def _suffix(text: str, name: str) -> str | None:
    """``_conv1`` for ``<name>_conv1``, ``""`` for ``name`` itself, else None."""
    if text == name:
        return ""
    return text[len(name) :] if text.startswith(name + "_") else None


NAME = "name"
"""The parameter of a block function (Keras) that holds the instance's name."""


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: str
    values: tuple[Any, ...]
    """Its value in each instance, in the order of the template's instances."""


@dataclass(frozen=True)
class Template:
    """A class shared by instances: its statements (numbers that differ are parameters)."""

    instances: tuple[Instance, ...]
    statements: tuple[Statement | str, ...]
    parameters: tuple[Parameter, ...]
    named: bool = False
    """Whether its statements name layers after the instance (``f"{name}_conv1"``)."""

    def arguments(self, index: int) -> dict[str, Any]:
        """The constructor's arguments for the ``index``-th instance."""
        return {p.name: p.values[index] for p in self.parameters}


def parametrize(
    instances: tuple[Instance, ...],
    recorded: list[list[Statement | str]],
    positional: Callable[[str], tuple[str, ...]],
    reserved: frozenset[str],
    *,
    named: bool = False,
    given: Sequence[Mapping[str, Any]] = (),
) -> Template:
    """One template for ``instances``, whose statements (``recorded``, one list per instance)
    have equal skeletons. ``positional`` names a call's positional parameters; a parameter
    takes none of ``reserved``, and the name of the one argument of ``given`` (per instance:
    what the spec's use of a block gave it) whose values it has. With ``named`` (layers keep
    the spec's names), a string that is each instance's name plus one suffix becomes
    ``f"{name}<suffix>"``."""
    slots = [slot for item in recorded[0] for slot, _ in _item_slots(item)]
    rows = [[n for item in items for _, n in _item_slots(item)] for items in recorded]
    columns = list(zip(*rows, strict=True))
    keys = [tuple((type(v).__name__, v) for v in column) for column in columns]
    groups: dict[tuple[Any, ...], list[str]] = {}
    replacements: list[Any] = []
    for slot, key, column in zip(slots, keys, columns, strict=True):
        suffixes = {
            _suffix(v, i.name) if isinstance(v, str) else None
            for v, i in zip(column, instances if named else (), strict=False)
        }
        if len(suffixes) == 1 and None not in suffixes:
            suffix = suffixes.pop()
            replacements.append(Raw(f'f"{{{NAME}}}{suffix}"' if suffix else NAME))
        elif len(set(key)) == 1:
            replacements.append(column[0])
        else:
            groups.setdefault(key, []).append(_slot_name(slot, positional))
            replacements.append(key)
    chosen = [_given(key, given) or _choose(found) for key, found in groups.items()]
    names = _unique(chosen, reserved | {NAME})
    name_of = dict(zip(groups, names, strict=True))
    order = list(given[0]) if given else []
    parameters = tuple(
        sorted(
            (
                Parameter(name, _annotation(key), tuple(v for _, v in key))
                for key, name in name_of.items()
            ),
            key=lambda p: order.index(p.name) if p.name in order else -1,
        )
    )  # sizes no parameter of the block gives first, then the block's in its order
    leaves = iter(Raw(name_of[r]) if isinstance(r, tuple) else r for r in replacements)
    statements = tuple(
        Statement(i.prefix, _substitute(i.value, leaves), i.suffix)
        if isinstance(i, Statement)
        else i
        for i in recorded[0]
    )
    return Template(instances, statements, parameters, named)


def _given(key: tuple[tuple[str, Any], ...], given: Sequence[Mapping[str, Any]]) -> str | None:
    """The one argument the uses were given whose values are the parameter's (``key``: its
    type and value per instance), if there is exactly one."""
    if len(given) != len(key):
        return None
    found = [
        name
        for name in given[0]
        if all(
            type(args.get(name)) is type(value) and args.get(name) == value
            for args, (_, value) in zip(given, key, strict=True)
        )
    ]
    return found[0] if len(found) == 1 else None


def _annotation(key: tuple[tuple[str, Any], ...]) -> str:
    return "float" if any(kind == "float" for kind, _ in key) else "int"


def _item_slots(item: Statement | str) -> list[tuple[Slot | None, Any]]:
    return list(_numbers(item.value)) if isinstance(item, Statement) else []


def parameters_of(source: str | None, name: str) -> tuple[str, ...]:
    """The positional parameters of the class (of its ``__init__``) or function ``name`` that
    ``source`` defines (a helper's text), none without it: what a number passed to it is
    called."""
    if source is None:
        return ()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name in ("__init__", name):
            skip = 1 if node.name == "__init__" else 0
            return tuple(arg.arg for arg in node.args.args[skip:])
    return ()


def _slot_name(slot: Slot | None, positional: Callable[[str], tuple[str, ...]]) -> str:
    if slot is None:
        return "value"
    if slot.key is not None:
        return slot.key
    names = positional(slot.func)
    return names[slot.position] if slot.position < len(names) else "value"


_PREFERRED = ("channels", "features", "in_channels", "out_channels", "in_features", "out_features")


def _choose(names: list[str]) -> str:
    """A basic block's ``in_channels`` and ``out_channels`` that are one parameter are
    ``channels``; otherwise the preferred name, else the first."""
    for stem in ("channels", "features"):
        if {f"in_{stem}", f"out_{stem}"} <= set(names):
            return stem
    for name in _PREFERRED:
        if name in names:
            return name
    return names[0]


def _unique(names: list[str], reserved: frozenset[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in out or candidate in reserved:
            candidate, n = f"{name}_{n}", n + 1
        out.append(candidate)
    return out
