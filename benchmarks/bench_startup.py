"""Start-up: wall time of ``normspec validate`` on 1,000-op specs, and in-process validation.

Prints figures; asserts nothing. Run: ``python benchmarks/bench_startup.py [--repeats 15]``.
Goal: ``normspec validate`` on a 1,000-op spec < 250 ms wall, interpreter start included.

Each round runs every command once, in turn, so that the figures share the machine's state. The
processes import this checkout's package, in two settings: with its bytecode cached (in a
temporary folder, filled by a first untimed round), as an installed package has it; and compiled
from source at every start (a copy run with ``PYTHONDONTWRITEBYTECODE=1``), as a checkout that
was never compiled is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # in process too, this checkout rather than an installed copy
ENTRY_POINT = "import sys; from normspec.cli import main; sys.exit(main())"
"""What the ``normspec`` console script runs (``[project.scripts]`` in pyproject.toml)."""


def mlp_spec(pairs: int = 500) -> str:
    """``2 * pairs`` canonical ops: dense layers with their activation, on a flat input."""
    lines = ["normspec: 1", "name: mlp", "input: {shape: [16]}", "layers:"]
    lines += ["  - dense: {units: 16, activation: relu}"] * (pairs - 1)
    lines += ["  - dense: {units: 10, activation: softmax}"]
    return "\n".join(lines) + "\n"


def conv_spec(blocks: int = 250) -> str:
    """``4 * blocks`` canonical ops: conv-BN-ReLU-dropout blocks on a small image."""
    lines = [
        "normspec: 1",
        "name: conv",
        "input: {shape: [16, 16, 8], normalize: standardize}",
        "defaults: {activation: relu, norm: {kind: batch, position: before_activation}}",
        "layers:",
    ]
    lines += ["  - conv2d: {filters: 8, padding: same, dropout: 0.1}"] * (blocks - 1)
    lines += ["  - flatten", "  - dense: {units: 10, activation: softmax, norm: none}"]
    return "\n".join(lines) + "\n"


def cached_env(cache: Path) -> dict[str, str]:
    """Imports this checkout; bytecode written to and read from ``cache``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def uncached_env(folder: Path) -> dict[str, str]:
    """Imports a copy of the package without bytecode, compiled at every start (installed
    packages keep their own bytecode)."""
    shutil.copytree(ROOT / "normspec", folder / "normspec", ignore=shutil.ignore_patterns("*.pyc"))
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    return env


Command = tuple[list[str], dict[str, str]]
"""Arguments and environment of one process."""


def wall_times(commands: dict[str, Command], repeats: int) -> dict[str, list[float]]:
    """Seconds per run of each command, the commands interleaved round by round."""
    for argv, env in commands.values():  # warm-up: fills the bytecode cache
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, (argv, env) in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
            times[label].append(time.perf_counter() - start)
    return times


def in_process(paths: dict[str, Path]) -> None:
    """Import of the core, first load of each spec (it builds the validators it needs), then
    later loads; the hash (printed by validate) included."""
    start = time.perf_counter()
    import normspec
    import normspec.spec.canonicalize

    print(f"in process: import of the core {(time.perf_counter() - start) * 1e3:.0f} ms")
    for label, path in paths.items():
        start = time.perf_counter()
        spec = normspec.load(path)
        _ = spec.hash
        first = time.perf_counter() - start
        later = []
        for _ in range(10):
            start = time.perf_counter()
            _ = normspec.load(path).hash
            later.append(time.perf_counter() - start)
        print(
            f"in process, validate {label} ({len(list(spec.nodes))} ops): first "
            f"{first * 1e3:.0f} ms, later median {statistics.median(later) * 1e3:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"mlp": folder / "mlp.yaml", "conv": folder / "conv.yaml"}
        paths["mlp"].write_text(mlp_spec())
        paths["conv"].write_text(conv_spec())
        envs = {
            "bytecode cached": cached_env(folder / "pycache"),
            "compiled at start": uncached_env(folder / "source"),
        }
        py = sys.executable
        commands: dict[str, Command] = {
            "python -c pass": ([py, "-c", "pass"], envs["bytecode cached"])
        }
        for setting, env in envs.items():
            for label, path in paths.items():
                argv = [py, "-c", ENTRY_POINT, "validate", str(path)]
                commands[f"normspec validate {label}, {setting}"] = (argv, env)
        times = wall_times(commands, args.repeats)
        print(f"wall time over {args.repeats} interleaved runs (goal for validate: < 250 ms)")
        for label, runs in times.items():
            print(
                f"  {label:44} median {statistics.median(runs) * 1e3:5.0f} ms, "
                f"min {min(runs) * 1e3:5.0f} ms"
            )
        in_process(paths)


if __name__ == "__main__":
    main()
