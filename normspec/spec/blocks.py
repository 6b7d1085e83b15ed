"""Blocks of the spec language: named layer lists with parameters, used as layers.

A spec may define blocks beside its layers::

    blocks:
      squeeze_excite:
        params: [channels, {ratio: 4}]       # a name, or {name: default}
        layers:
          - global_avg_pool
          - dense: {units: $squeezed, norm: none}
          ...
          - multiply: [input, gate]          # inside a block, input is the block's input

and use one like a layer: ``- squeeze_excite: {channels: 64, name: se1}`` (a block of one
parameter, or of one without a default, also takes it as a scalar: ``- basic: 64``). A value
written ``$name`` anywhere in the block's layers is the parameter's value at each use. Inside
a block, layers read each other by ``inputs:`` as in the top-level list; the block's value is
its last layer's. Every op of a use is named ``<use>_<its name in the block>`` (``se1_gate``),
and the use's name reads the block's value.

A problem inside a block is reported where the block says it (FILE:LINE:COL of the definition)
and names the use it was found in, with the parameters of that use; a problem caused by a
parameter's value is reported at the value the use gives, naming the definition.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from normspec.errors import Path, Problem, format_path, shown
from normspec.ir.constraints import RESERVED_NAMES, is_identifier
from normspec.ir.graph import BlockArguments
from normspec.ir.nodes import BRANCHES
from normspec.loader import Document
from normspec.spec import models as m
from normspec.spec.suggestions import suggest
from normspec.spec.validate import validate

PARAMETER = re.compile(r"^\$([A-Za-z][A-Za-z0-9_]*)$")
"""A value that stands for a parameter: ``$filters``."""
USE_KEYS = ("name", "inputs")
"""What a use takes besides the block's parameters."""
_REQUIRED = object()


@dataclass(frozen=True)
class Definition:
    """A block as defined: its parameters (each with its default, or required), its layers."""

    name: str
    params: dict[str, Any]
    layers: list[Any]
    at: Path
    """``("blocks", name)``."""
    sound: bool = True
    """False when the definition itself has a problem (reported): its uses are refused
    without more."""

    @property
    def required(self) -> list[str]:
        return [p for p, default in self.params.items() if default is _REQUIRED]


def definitions(data: Any, doc: Document, problems: list[Problem]) -> dict[str, Definition]:
    """The blocks defined in ``data`` (the ``blocks`` section), each checked on its own: its
    name, its parameters, and that every ``$name`` in its layers is one of them."""
    if not isinstance(data, dict):
        return {}  # the header's validation says what is wrong with it
    out = {}
    for name, body in data.items():
        at: Path = ("blocks", name)
        mark = len(problems)
        block = validate(m.BlockDefinition, body, doc, at, problems)
        params = _params(block.params, doc, problems, at) if block is not None else None
        if block is None or params is None:
            out[name] = Definition(name, {}, [], at, sound=False)
            continue
        _check_references(params, block.layers, doc, problems, at)
        sound = _good_name(name, doc, problems, at) and len(problems) == mark
        out[name] = Definition(name, params, list(block.layers), at, sound)
    return out


def _good_name(name: Any, doc: Document, problems: list[Problem], at: Path) -> bool:
    if name in m.LAYER_KINDS:
        message = f"'{name}' is a layer kind; give the block a name of its own"
    elif name in BRANCHES:
        message = f"'{name}' names a residual's branch; give the block another name"
    elif name in RESERVED_NAMES:
        message = f"'{name}' is reserved by the generated code; give the block another name"
    elif not is_identifier(name):
        message = f"a block's name is an identifier (letters, digits and '_'), got {shown(name)}"
    else:
        return True
    problems.append(doc.problem(at, message, key=True))
    return False


def _params(
    written: list[Any], doc: Document, problems: list[Problem], at: Path
) -> dict[str, Any] | None:
    params: dict[str, Any] = {}
    good = True
    for i, item in enumerate(written):
        name, default = (item, _REQUIRED) if isinstance(item, str) else next(iter(item.items()))
        path = (*at, "params", i)
        if name in params:
            problems.append(doc.problem(path, f"the parameter '{name}' is listed twice"))
            good = False
        elif name in USE_KEYS:
            message = f"'{name}' is what a use of the block gives its layer; call it otherwise"
            problems.append(doc.problem(path, message))
            good = False
        params[name] = default
    return params if good else None


def _check_references(
    params: dict[str, Any], layers: list[Any], doc: Document, problems: list[Problem], at: Path
) -> None:
    found: set[str] = set()
    for path, name in references(layers, (*at, "layers")):
        found.add(name)
        if name not in params:
            listed = ", ".join(params) or "none"
            message = (
                f"unknown parameter '${name}'{suggest(name, params)}; the block's parameters: "
                f"{listed}"
            )
            problems.append(doc.problem(path, message))
    for i, name in enumerate(params):
        if name not in found:
            message = f"the parameter '{name}' is never used: write ${name} where it goes"
            problems.append(doc.problem((*at, "params", i), message))


def references(value: Any, path: Path) -> list[tuple[Path, str]]:
    """Every ``$name`` in ``value`` with where it is."""
    if isinstance(value, str):
        match = PARAMETER.match(value)
        return [(path, match.group(1))] if match else []
    if isinstance(value, dict):
        return [r for key, item in value.items() for r in references(item, (*path, key))]
    if isinstance(value, list):
        return [r for i, item in enumerate(value) for r in references(item, (*path, i))]
    return []


def substitute(value: Any, args: dict[str, Any]) -> Any:
    """``value`` with each ``$name`` replaced by the argument of that name."""
    if isinstance(value, str):
        match = PARAMETER.match(value)
        return args.get(match.group(1), value) if match else value
    if isinstance(value, dict):
        return {key: substitute(item, args) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, args) for item in value]
    return value


def arguments(
    block: Definition, body: Any, at: Path, doc: Document, problems: list[Problem]
) -> dict[str, Any] | None:
    """The parameters of the use at ``at`` (its options ``body``), defaults filled in; None
    (reported) when one is unknown or missing."""
    if body is None:
        body = {}
    elif not isinstance(body, dict):
        only = block.required if len(block.params) != 1 else list(block.params)
        if len(only) != 1:
            listed = ", ".join(block.params) or "no parameters"
            message = (
                f"{block.name} takes a mapping of its parameters ({listed}), not {shown(body)}"
            )
            problems.append(doc.problem(at, message))
            return None
        body = {only[0]: body}
    good = True
    for key in body:
        if key not in block.params and key not in USE_KEYS:
            allowed = [*block.params, *USE_KEYS]
            hint = suggest(key, allowed) if isinstance(key, str) else ""
            message = (
                f"unknown parameter {shown(key)} of the block {block.name}{hint}; it takes "
                f"{', '.join(allowed)}"
            )
            problems.append(doc.problem((*at, key), message, key=True))
            good = False
    missing = [p for p in block.required if p not in body]
    if missing:
        listed = ", ".join(f"'{p}'" for p in missing)
        problems.append(doc.problem(at, f"the block {block.name} needs {listed}"))
    if not good or missing:
        return None
    return {p: body.get(p, default) for p, default in block.params.items()}


@dataclass(frozen=True)
class Use:
    """Where a block is used, with what."""

    block: Definition
    at: Path
    args: dict[str, Any]
    doc: Document

    def told(self, problem: Problem) -> Problem:
        """``problem``, found while lowering this use, told with both places: where the
        definition has it, and the use (its parameters); at the use's value when the
        definition's is a parameter."""
        inner = problem.path[len(self.block.at) :]
        name = _parameter_at(self.block.layers, inner)
        if name is not None and not isinstance(inner[-2], int):  # a value, not a whole layer
            path = (*self.at, name)
            where = f"{problem.location}: {format_path(problem.path)}"
            message = f"{problem.text} (the parameter {name} of {self.block.name}, at {where})"
            return Problem(self.doc.locate(path), path, message)
        listed = ", ".join(f"{p}={shown(v)}" for p, v in self.args.items())
        with_args = f" with {listed}" if listed else ""
        use = f"in the use at {self.doc.locate(self.at)}: {format_path(self.at)}{with_args}"
        return replace(problem, uses=(*problem.uses, use))


def _parameter_at(layers: list[Any], path: Path) -> str | None:
    """The parameter written at ``path`` in a block's layers (``("layers", 2, "dense",
    "units")``), if it is one."""
    value: Any = {"layers": layers}
    for part in path:
        listed = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if not listed and not (isinstance(value, dict) and part in value):
            return None
        value = value[part]
    match = PARAMETER.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def once(problems: list[Problem]) -> list[Problem]:
    """``problems`` without repeats: a problem of a definition that every use finds (not
    caused by its parameters) is told for the first use only (problems are compared without
    the uses they were found in)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for problem in problems:
        key = (problem.location, problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def recorded(use: str, block: str, args: dict[str, Any]) -> BlockArguments:
    """What the canonical form keeps of a use: the arguments that are numbers, names or lists
    of them."""
    kept = tuple((k, _argument(v)) for k, v in args.items() if _argument(v) is not None)
    return BlockArguments(use=use, block=block, args=kept)


def _argument(value: Any) -> Any:
    if isinstance(value, list):
        items = [_scalar(v) for v in value]
        return None if any(v is None for v in items) else tuple(items)
    return _scalar(value)


def _scalar(value: Any) -> Any:
    value = m.number(value)  # 1e-5, which YAML 1.1 reads as text
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, bool | int | float | str) else None
