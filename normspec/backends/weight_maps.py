"""Where each backend's layers hold the canonical weights: one map per printed op, declared with
its printer (``register(..., weights=...)`` in each ``emitter.py``) and read by the backend's
weight adapter (``runtime.py``) to move weights in and out.

A map sends each weight role of the op (:mod:`normspec.ir.roles`) to a :class:`Slot`: the
attribute of the layer named after the op, and the layout the framework stores it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from normspec.ir import ops as ir
from normspec.ir.registry import Registry

Layout = Literal["canonical", "channels_first"]
"""``canonical``: as :mod:`normspec.ir.roles` says (dense ``(in, out)``, conv ``(*kernel, in /
groups, out)``, per-channel ``(C,)``). ``channels_first``: PyTorch's kernels, ``(out, in)`` and
``(out, in / groups, *kernel)``."""


@dataclass(frozen=True)
class Slot:
    attribute: str
    layout: Layout = "canonical"


WeightMap = Mapping[str, Slot]
"""Role name -> where the layer holds it."""

WeightMaps = Registry[type[ir.Op], WeightMap]


def weight_map(**roles: str | Slot) -> WeightMap:
    """``weight_map(kernel=Slot("weight", "channels_first"), bias="bias")``: a plain string is
    an attribute holding the canonical layout."""
    return {role: Slot(s) if isinstance(s, str) else s for role, s in roles.items()}


def slot(maps: WeightMaps, op: ir.Op, role: str) -> Slot:
    """The slot of ``op``'s weight ``role``; a role the printer did not map is a bug."""
    found = maps.get(type(op))
    if found is None or role not in found:
        raise KeyError(f"{maps.what}: no slot for {type(op).__name__}.{role}")
    return found[role]
