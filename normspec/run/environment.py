"""The machine and frameworks a run ran on, recorded in ``metrics.json`` and the reports:
float32 results depend on them (the intra-op thread count changes batch-norm sums, for one)."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np

from normspec import __version__


class Recorded(Protocol):
    """A run (:class:`~normspec.run.train.History`): its backend and the environment it
    recorded while it ran (empty when it recorded none)."""

    @property
    def backend(self) -> str: ...

    @property
    def environment(self) -> Mapping[str, object]: ...


def run_environment(runs: Iterable[Recorded]) -> dict[str, object]:
    """The machine, and each backend's framework, threads and device as its run recorded them
    (a run's thread count holds only while it runs), else as the backend is now."""
    from normspec.backends import get_backend

    backends = {run.backend: dict(run.environment) for run in runs}
    return {
        "normspec": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "backends": {
            name: info or get_backend(name).environment() for name, info in backends.items()
        },
    }


def environment_lines(environment: dict[str, object]) -> list[str]:
    """One markdown bullet per backend, then the machine."""
    backends = environment.get("backends", {})
    assert isinstance(backends, dict)
    lines = [
        f"- {name}: {info['framework']}, threads {info['threads']}{chosen(info)}, "
        f"device {info['device']}"
        for name, info in backends.items()
    ]
    lines.append(
        f"- normspec {environment['normspec']}, Python {environment['python']}, "
        f"numpy {environment['numpy']}, {environment['machine']}"
    )
    return lines


def chosen(info: Mapping[str, object]) -> str:
    """`` (why)``: how the run's thread count was chosen, when it was recorded."""
    why = info.get("thread_choice")
    return f" ({why})" if why else ""


def thread_lines(runs: Mapping[str, Iterable[Recorded]]) -> list[str]:
    """Per label, the threads its runs ran on and why, when labels differ in them (``auto``
    chooses per network, and variants of an ablation may fall either side of its threshold);
    nothing when they are all alike."""
    seen = {
        label: {(info.get("threads"), chosen(info)) for info in _infos(group)}
        for label, group in runs.items()
    }
    if len(set().union(*seen.values())) <= 1:
        return []
    return [
        f"- {label}: threads {count}{why}"
        for label, kinds in seen.items()
        for count, why in sorted(kinds, key=str)
    ]


def _infos(runs: Iterable[Recorded]) -> list[Mapping[str, object]]:
    return [run.environment for run in runs if run.environment]
