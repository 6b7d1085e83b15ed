"""The machine and frameworks a run ran on, recorded in ``metrics.json`` and the reports:
float32 results depend on them (the intra-op thread count changes batch-norm sums, for one)."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable

import numpy as np

from normspec import __version__


def run_environment(backends: Iterable[str]) -> dict[str, object]:
    from normspec.backends import get_backend

    return {
        "normspec": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "backends": {name: get_backend(name).environment() for name in backends},
    }


def environment_lines(environment: dict[str, object]) -> list[str]:
    """One markdown bullet per backend, then the machine."""
    backends = environment.get("backends", {})
    assert isinstance(backends, dict)
    lines = [
        f"- {name}: {info['framework']}, threads {info['threads']}, device {info['device']}"
        for name, info in backends.items()
    ]
    lines.append(
        f"- normspec {environment['normspec']}, Python {environment['python']}, "
        f"numpy {environment['numpy']}, {environment['machine']}"
    )
    return lines
