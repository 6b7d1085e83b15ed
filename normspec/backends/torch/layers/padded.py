"""Convolutions and pools after an explicit, possibly asymmetric padding (TF/XLA
'same').

The definitions are copied verbatim into the PyTorch modules normspec emits (see
:mod:`normspec.backends.torch.helpers`); channels-first tensors ``(N, C, *spatial)`` in
and out.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class PaddedConv1d(nn.Conv1d):
    """``nn.Conv1d`` after zero padding ``pad`` = (left, right).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    """

    def __init__(self, *args: Any, pad: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, padding=0, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, self.pad), self.weight, self.bias)


class PaddedConv2d(nn.Conv2d):
    """``nn.Conv2d`` after zero padding ``pad`` = (left, right, top, bottom).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    """

    def __init__(self, *args: Any, pad: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, padding=0, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, self.pad), self.weight, self.bias)


class PaddedMaxPool1d(nn.MaxPool1d):
    """``nn.MaxPool1d`` after -inf padding ``pad`` = (left, right).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    """

    def __init__(self, *args: Any, pad: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, padding=0, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool1d(
            F.pad(x, self.pad, value=-torch.inf),
            self.kernel_size,
            self.stride,
            0,
            self.dilation,
            ceil_mode=self.ceil_mode,
        )


class PaddedMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` after -inf padding ``pad`` = (left, right, top, bottom).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    """

    def __init__(self, *args: Any, pad: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, padding=0, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(
            F.pad(x, self.pad, value=-torch.inf),
            self.kernel_size,
            self.stride,
            0,
            self.dilation,
            ceil_mode=self.ceil_mode,
        )


class PaddedAvgPool1d(nn.AvgPool1d):
    """``nn.AvgPool1d`` after zero padding ``pad`` = (left, right).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    ``count_include_pad=False`` divides by the number of cells inside the input.
    """

    def __init__(
        self, *args: Any, pad: tuple[int, ...], count_include_pad: bool, **kwargs: Any
    ) -> None:
        # Padded zeros enter every window sum; the divisor is corrected in forward.
        super().__init__(*args, padding=0, count_include_pad=True, **kwargs)
        self.pad = pad
        self.include_pad = count_include_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._pool(F.pad(x, self.pad))
        if self.include_pad:
            return out
        inside = self._pool(F.pad(torch.ones_like(x[:1, :1]), self.pad))
        return out / inside

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, 0, self.ceil_mode, True)


class PaddedAvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` after zero padding ``pad`` = (left, right, top, bottom).

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    ``count_include_pad=False`` divides by the number of cells inside the input.
    """

    def __init__(
        self, *args: Any, pad: tuple[int, ...], count_include_pad: bool, **kwargs: Any
    ) -> None:
        # Padded zeros enter every window sum; the divisor is corrected in forward.
        super().__init__(*args, padding=0, count_include_pad=True, **kwargs)
        self.pad = pad
        self.include_pad = count_include_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._pool(F.pad(x, self.pad))
        if self.include_pad:
            return out
        inside = self._pool(F.pad(torch.ones_like(x[:1, :1]), self.pad))
        return out / inside

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, 0, self.ceil_mode, True)
