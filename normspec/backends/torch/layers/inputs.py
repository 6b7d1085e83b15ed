"""Input normalization: standardization (fixed or fitted) and rescaling.

The definitions are copied verbatim into the PyTorch modules normspec emits (see
:mod:`normspec.backends.torch.helpers`); channels-first tensors ``(N, C, *spatial)`` in
and out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from normspec.backends.torch.layers.tensors import per_channel


class Standardize(nn.Module):
    """Input standardization ``(x - mean) / std`` per channel; the statistics are
    buffers (state, not trained).

    Without ``mean`` and ``std`` they are to be fitted: call ``adapt(x)`` on the
    training inputs (N, C, *spatial), or load weights that hold them
    (``load_state_dict``); until then the module refuses to run. ``adapt`` takes the
    population std, floored at ``epsilon``, computed in float64.
    """

    def __init__(
        self,
        channels: int,
        *,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        epsilon: float,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.fitted = mean is not None and std is not None
        unset = torch.full((channels,), torch.nan, dtype=dtype)
        fixed_mean = None if mean is None else torch.tensor(mean, dtype=dtype)
        fixed_std = None if std is None else torch.tensor(std, dtype=dtype)
        self.register_buffer("mean", unset if fixed_mean is None else fixed_mean)
        self.register_buffer("std", unset.clone() if fixed_std is None else fixed_std)

    @torch.no_grad()
    def adapt(self, x: torch.Tensor) -> None:
        """Fits mean and std on ``x`` (N, C, *spatial) over all but the channel axis."""
        x = torch.as_tensor(x, dtype=torch.float64).movedim(1, -1)
        x = x.reshape(-1, self.mean.numel())
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0, correction=0).clamp_min(self.epsilon))
        self.fitted = True

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.fitted = prefix + "mean" in state_dict and prefix + "std" in state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            if bool(torch.isnan(self.std).any()):
                raise RuntimeError(
                    "Standardize: mean and std are not set; call its adapt(x_train) "
                    "with the training inputs (N, C, ...), or load weights that hold "
                    "them (normspec weights convert SPEC W.safetensors -o W.pt, "
                    "then model.load_state_dict(torch.load('W.pt')))"
                )
            self.fitted = True
        return (x - per_channel(self.mean, x)) / per_channel(self.std, x)


class Rescale(nn.Module):
    """Input rescaling ``x * scale + offset``."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale = scale
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset
