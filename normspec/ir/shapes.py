"""Shape arithmetic shared by canonicalization and the emitters."""

from __future__ import annotations

from normspec.ir.ops.base import Pair


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> Pair:
    """TensorFlow/XLA 'SAME': output ceil(size / stride); an odd total pad puts the extra cell
    at the end (bottom/right)."""
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return (total // 2, total - total // 2)


def window_output(size: int, kernel: int, stride: int, pad: Pair, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window (floor mode)."""
    effective = (kernel - 1) * dilation + 1
    return (size + pad[0] + pad[1] - effective) // stride + 1


def is_same_padding(
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    padding: tuple[Pair, ...],
    dilation: tuple[int, ...] | None = None,
) -> bool:
    """Whether ``padding`` is exactly what 'SAME' gives for these sizes."""
    dilation = dilation or (1,) * len(kernel)
    return all(
        same_padding(n, k, s, d) == p
        for n, k, s, d, p in zip(sizes, kernel, strides, dilation, padding, strict=True)
    )
