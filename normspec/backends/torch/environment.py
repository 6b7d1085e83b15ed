"""What a PyTorch run ran with (version, threads, device), and a run's thread count applied:
float32 results depend on the intra-op thread count (batch statistics are summed in another
order), so runs record it and ``--threads`` fixes it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from normspec.backends.torch.trainer import device
from normspec.threads import Threads


@contextlib.contextmanager
def threads(choice: Threads) -> Iterator[str]:
    """``choice.count`` intra-op threads inside the block (the framework's own when None), the
    count from before afterwards: a run does not change what the process runs next. Yields
    how the count was chosen."""
    before = torch.get_num_threads()
    if choice.count is not None:
        torch.set_num_threads(choice.count)
    try:
        yield choice.reason
    finally:
        torch.set_num_threads(before)


def environment() -> dict[str, object]:
    return {
        "framework": f"torch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "device": str(device()),
    }
