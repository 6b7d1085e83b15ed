"""Layers of one kind that a model builds with the same conventions many times, written once as
a ``functools.partial`` (as torchvision's ``norm_layer`` and ``conv3x3``)::

    # Layers built many times, each with the spec's conventions stated once (...).
    batch_norm2d = partial(
        nn.BatchNorm2d, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True
    )
    conv3x3 = partial(nn.Conv2d, kernel_size=3, padding=1, bias=False)

and used as ``batch_norm2d(64, dtype=dtype)`` and ``conv3x3(64, 128, stride=2, dtype=dtype)``.
Every convention stays explicit in the file; a stock layer is a partial only where at least
:data:`SHARED` of the spec's layers of that kind are given the same.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from normspec.backends.codegen import LINE_LENGTH, Call, Raw, call, statement
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.ir.ops import Shape

SHARED = 3
"""Stock layers given the same conventions are one partial when at least this many."""
NAME = re.compile(r"(batch_norm\dd|conv\d+(x\d+)?)(_\d+)?")
"""The names of the partials."""

Key = tuple[Any, ...]
"""A layer's class and the keyword arguments the partial gives it, as a tuple of pairs."""


@dataclass(frozen=True)
class Partial:
    name: str
    cls: str
    options: tuple[tuple[str, Any], ...]

    def source(self) -> list[str]:
        value = call("partial", Raw(self.cls), **dict(self.options))
        return statement(f"{self.name} = ", value, depth=0)

    def use(self, *args: Any, **kwargs: Any) -> Call:
        return call(self.name, *args, **kwargs)


def source(found: list[Partial]) -> str:
    """The partials' definitions, under a comment saying what they are."""
    text = "Layers built many times, each with the spec's conventions stated once"
    if any(p.cls.startswith("nn.BatchNorm") for p in found):
        text += (
            " (a batch norm's momentum is the weight of the new batch statistic in the "
            "running ones)"
        )
    comment = textwrap.wrap(
        text + ".", LINE_LENGTH - 2, initial_indent="# ", subsequent_indent="# "
    )
    return "\n".join([*comment, *(line for p in found for line in p.source())])


def batch_norm_key(op: ir.BatchNorm, shape: Shape) -> Key | None:
    """How the stock ``nn.BatchNorm<dims>d`` is given ``op`` (on inputs of ``shape``); None
    when it cannot take it (a biased running variance, a scale without a shift or the
    reverse)."""
    if op.running_var != "unbiased" or op.center != op.scale:
        return None
    dims = max(len(shape) - 1, 1)
    options = (
        ("eps", op.epsilon),
        ("momentum", op.momentum),
        ("affine", op.scale),
        ("track_running_stats", True),
    )
    return (f"nn.BatchNorm{dims}d", options)


def conv_key(op: ir.Conv1D | ir.Conv2D, padding: Any) -> Key:
    """What a stock ``nn.Conv<dims>d`` takes but its channels and stride (``padding``: the
    symmetric padding it is given)."""
    options: list[tuple[str, Any]] = [("kernel_size", compact(op.kernel)), ("padding", padding)]
    if set(op.dilation) != {1}:
        options.append(("dilation", compact(op.dilation)))
    if op.groups != 1:
        options.append(("groups", op.groups))
    options.append(("bias", op.use_bias))
    return (f"nn.Conv{len(op.kernel)}d", tuple(options))


_CACHE: dict[str, dict[Key, Partial]] = {}


def partials(spec: CanonicalSpec) -> dict[Key, Partial]:
    """The partials of ``spec``'s model, by the key of the layers they build."""
    if spec.hash not in _CACHE:
        counts = Counter(_keys(spec))
        found: dict[Key, Partial] = {}
        names: set[str] = set()
        for key, count in counts.items():
            if count >= SHARED:
                name = _unique(_base(key), names)
                names.add(name)
                found[key] = Partial(name, key[0], key[1])
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[spec.hash] = found
    return _CACHE[spec.hash]


def _keys(spec: CanonicalSpec) -> Iterator[Key]:
    for node in spec.nodes:
        op = node.op
        if isinstance(op, ir.BatchNorm):
            key = batch_norm_key(op, node.input_shape)
            if key is not None:
                yield key
        elif isinstance(op, ir.Conv1D | ir.Conv2D) and symmetric(op.padding):
            yield conv_key(op, compact(tuple(before for before, _ in op.padding)))


def _base(key: Key) -> str:
    cls, options = key
    if cls.startswith("nn.BatchNorm"):
        return f"batch_norm{cls[-2:]}"
    kernel = dict(options)["kernel_size"]
    sizes = kernel if isinstance(kernel, tuple) else (kernel,) * int(cls[-2])
    return "conv" + "x".join(map(str, sizes))


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def compact(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """``3`` for ``(3, 3)``: torch takes one number for equal sizes."""
    return values[0] if len(set(values)) == 1 else values


def symmetric(padding: tuple[ir.Pair, ...]) -> bool:
    return all(before == after for before, after in padding)
