"""Canonical YAML of a 5,000-op spec: ``normspec canonical`` wall time, and in-process dump time
with libyaml's dumper against PyYAML's Python dumper (same bytes).

Prints figures; asserts nothing. Run: ``python benchmarks/bench_canonical.py [--repeats 7]``.
Goal: ``normspec canonical`` on 5,000 ops < 1 s wall, interpreter start included.

The processes import this checkout with cached bytecode (see ``bench_startup.py``). In process,
the two dumpers run in turn on the same data, with the collector paused as in the command.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from bench_startup import ENTRY_POINT, Command, cached_env, conv_spec, wall_times


def paused_gc_time(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` takes with the collector paused, and its result."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def plain_c_dumper(represent_list: Callable[..., Any]) -> type | None:
    """libyaml's safe dumper with the canonical list style only (no direct paths)."""
    if not yaml.__with_libyaml__:
        return None

    class PlainCDumper(yaml.CSafeDumper):
        pass

    PlainCDumper.add_representer(list, represent_list)
    return PlainCDumper


def in_process(path: Path, repeats: int) -> None:
    import normspec
    from normspec.ir.serialize import to_data
    from normspec.ir.yaml_dumpers import CDumper, PythonDumper, represent_list

    spec = normspec.load(path)
    data = to_data(spec)
    dumpers = {
        "Python dumper": PythonDumper,
        "libyaml, PyYAML's representers": plain_c_dumper(represent_list),
        "libyaml dumper": CDumper,
    }
    dumps = {
        label: partial(yaml.dump, data, Dumper=dumper, sort_keys=False, width=100)
        for label, dumper in dumpers.items()
        if dumper is not None
    }
    times: dict[str, list[float]] = {label: [] for label in dumps}
    texts = {}
    for _ in range(repeats):
        for label, dump in dumps.items():
            seconds, texts[label] = paused_gc_time(dump)
            times[label].append(seconds)
    n_ops = len(list(spec.nodes))
    print(f"in process, yaml.dump of the {n_ops}-op canonical data, {repeats} runs each:")
    for label, runs in times.items():
        print(
            f"  {label:32} median {statistics.median(runs) * 1e3:5.0f} ms, "
            f"min {min(runs) * 1e3:5.0f} ms"
        )
    if "libyaml dumper" in times:
        python, libyaml = (statistics.median(times[k]) for k in ("Python dumper", "libyaml dumper"))
        same = len(set(texts.values())) == 1
        print(f"  libyaml dumper {python / libyaml:.1f}x faster than Python; same bytes: {same}")
    else:
        print("  PyYAML has no libyaml here: only the Python dumper ran")
    to_data_time = min(paused_gc_time(partial(to_data, spec))[0] for _ in range(repeats))
    print(f"  to_data (run once for the hash, once for the text): min {to_data_time * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "conv5000.yaml"
        path.write_text(conv_spec(1250))
        env = cached_env(folder / "pycache")
        py = sys.executable
        out = folder / "out.yaml"
        commands: dict[str, Command] = {
            "normspec validate": ([py, "-c", ENTRY_POINT, "validate", str(path)], env),
            "normspec canonical": ([py, "-c", ENTRY_POINT, "canonical", str(path)], env),
            "normspec canonical -o FILE": (
                [py, "-c", ENTRY_POINT, "canonical", str(path), "-o", str(out)],
                env,
            ),
        }
        times = wall_times(commands, args.repeats)
        print(f"5,000-op spec, wall time over {args.repeats} interleaved runs (goal < 1 s)")
        for label, runs in times.items():
            print(
                f"  {label:28} median {statistics.median(runs) * 1e3:5.0f} ms, "
                f"min {min(runs) * 1e3:5.0f} ms"
            )
        in_process(path, args.repeats)


if __name__ == "__main__":
    main()
