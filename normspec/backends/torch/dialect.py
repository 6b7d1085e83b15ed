"""How the PyTorch printers write a model: an ``nn.Module`` whose layers are attributes built
in ``__init__`` and called in ``forward``, statements packed as ``ruff format`` packs them."""

from __future__ import annotations

from normspec.backends.codegen import Raw
from normspec.backends.printing import Dialect

DTYPE = Raw("dtype")
"""Layers with parameters or state get ``dtype=dtype``, the model constructor's argument."""

DIALECT = Dialect(
    depth=2, pack=True, branches={"body": "out", "shortcut": "shortcut"}, attributes=True
)
