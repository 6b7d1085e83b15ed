"""What a PyTorch run ran with (version, threads, device), and ``NORMSPEC_THREADS`` applied:
float32 results depend on the intra-op thread count (batch statistics are summed in another
order), so runs record it and ``--threads`` fixes it."""

from __future__ import annotations

import os

import torch

from normspec.backends.torch.trainer import device


def apply_threads() -> None:
    """Use ``NORMSPEC_THREADS`` intra-op threads, when it is set."""
    wanted = os.environ.get("NORMSPEC_THREADS")
    if wanted:
        torch.set_num_threads(int(wanted))


def environment() -> dict[str, object]:
    return {
        "framework": f"torch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "device": str(device()),
    }
