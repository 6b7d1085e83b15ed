"""What a Flax run ran with (versions, device). XLA sizes its CPU thread pool itself; there is
no supported setting for it once JAX has started, so a run's thread count is recorded as not
applied."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import flax
import jax

from normspec.backends.common import requested_device
from normspec.threads import Threads


@contextlib.contextmanager
def threads(choice: Threads) -> Iterator[str]:
    """Nothing to apply: XLA's CPU thread pool is not configurable at run time."""
    yield "not applied: XLA sizes its own pool"


def environment() -> dict[str, object]:
    wanted = requested_device()
    devices = jax.devices() if wanted == "auto" else jax.devices(wanted)
    return {
        "framework": f"jax {jax.__version__}, flax {flax.__version__}",
        "threads": f"XLA's own pool ({os.cpu_count()} cores)",
        "device": devices[0].platform,
    }
