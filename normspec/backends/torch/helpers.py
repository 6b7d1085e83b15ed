"""Small modules the generated PyTorch file defines when stock ``torch.nn`` cannot compute
exactly what the IR says. Each is real code in :mod:`normspec.backends.torch.layers` (linted,
type-checked and tested there), copied verbatim into a generated module only when one of its
ops needs it.

Every helper takes and returns channels-first tensors ``(N, C, *spatial)``, like ``torch.nn``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from normspec.backends.named_init import NAMED


@dataclass(frozen=True)
class Helper:
    source: str
    needs: tuple[str, ...] = ()
    """Other helpers and imports (``Any``, ``F``) the source refers to."""


LAYERS = Path(__file__).parent / "layers"
"""The package holding the helpers as real code (:mod:`normspec.backends.torch.layers`); it
imports torch, so it is read here as text, never imported."""

_MODULES = ("tensors", "inputs", "padded", "norms", "init")

_NEEDS: dict[str, tuple[str, ...]] = {
    "per_channel": (),
    "Standardize": ("per_channel", "Any"),
    "Rescale": (),
    "Flatten": (),
    "Reshape": (),
    "GlobalAvgPool": (),
    "GlobalMaxPool": (),
    **{
        f"Padded{kind}{d}d": ("Any", "F") for kind in ("Conv", "MaxPool", "AvgPool") for d in (1, 2)
    },
    "BatchNorm": ("F",),
    "ChannelLayerNorm": ("per_channel",),
    "GroupNorm": ("F",),
    "ChannelRMSNorm": ("per_channel",),
    **{f"{name}_": ("math",) for name in NAMED},
}
"""Every helper, in the order the generated module lists them, with what its code refers to."""


def _definitions() -> dict[str, str]:
    """The exact text of every top-level class and function of the layer modules."""
    out: dict[str, str] = {}
    for module in _MODULES:
        text = (LAYERS / f"{module}.py").read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                segment = ast.get_source_segment(text, node)
                assert segment is not None
                out[node.name] = segment
    return out


def _helpers() -> dict[str, Helper]:
    found = _definitions()
    missing = set(_NEEDS) - set(found)
    if missing:
        raise RuntimeError(f"no definition of {sorted(missing)} in {LAYERS}")
    return {name: Helper(found[name], needs) for name, needs in _NEEDS.items()}


HELPERS: dict[str, Helper] = _helpers()
"""Helper name -> source; the generated module lists the helpers it uses in this order."""

IMPORTS = ("Any", "F", "math")
"""Names in ``needs`` that are imports rather than helpers."""


def closure(names: set[str]) -> list[str]:
    """``names`` with every helper they need, in :data:`HELPERS` order (imports excluded)."""
    wanted = set(names)
    pending = list(names)
    while pending:
        for need in HELPERS[pending.pop()].needs:
            if need not in IMPORTS and need not in wanted:
                wanted.add(need)
                pending.append(need)
    return [name for name in HELPERS if name in wanted]
