"""PyTorch: emit one ``nn.Module`` class per spec and drive it.

Emission needs only normspec; building, running and training the model import PyTorch on first
use: :mod:`~normspec.backends.torch.runtime` builds and runs the model,
:mod:`~normspec.backends.torch.training` takes optimizer steps for training-step parity and
:mod:`~normspec.backends.torch.trainer` is the idiomatic training loop and ``predict``.
"""

from __future__ import annotations

from normspec.backends.lazy import LazyBackend
from normspec.backends.torch.module import emit_module

BACKEND = LazyBackend("torch", emit_module)

__all__ = ["BACKEND", "emit_module"]
