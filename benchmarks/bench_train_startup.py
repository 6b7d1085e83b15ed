"""Start-up of ``normspec train``: the fixed cost of a short run, split into its parts.

Goal: tell normspec's own share of the fixed cost of a short ``normspec train`` apart from the
framework's: the interpreter, the framework's import, normspec's import, the data, the rest.

Measured, as wall time of a process of its own, per backend (``--backends``):

- ``python -c pass``: the interpreter alone;
- ``import numpy``: numpy, which both the framework and normspec's data loading import;
- numpy, then the framework (``import torch``; ``import keras`` on TensorFlow;
  ``import jax, flax.nnx, optax``): the framework's import is this less ``import numpy``;
- ``import normspec.cli``: normspec's own import (the CLI; it imports no numpy);
- ``import normspec.cli`` then ``load_dataset("digits")`` (``normspec.run.data``, which reads
  scikit-learn's bundled csv without importing scikit-learn): the data loading is this less
  ``import normspec.cli`` and less the numpy import;
- ``normspec train specs/digits_cnn.yaml --backend B --data digits --epochs 1 --out TMP/...``,
  and the same with ``--epochs 3``.

The steady epoch is (3 epochs - 1 epoch) / 2 and the fixed cost is the 1-epoch run less one
steady epoch. Printed per backend: the median and range of each process over the rounds, the
steady epoch and the fixed cost, then the fixed cost split into interpreter, numpy, framework
import, normspec import, data loading and a remainder estimated by subtraction (the train
command's further normspec modules, spec loading, model build, the first epoch's compilation
or tracing, writing the run folder: metrics, weights, report), each in ms and as a share.

Each round runs every process once, in turn (in reverse order in odd rounds), so that the
figures share the machine's state. Bytecode is cached in a temporary folder
(``PYTHONPYCACHEPREFIX``), filled by a first untimed round, as an installed package has it; run
folders go to a temporary folder too. Prints figures; asserts nothing.

Run: ``python benchmarks/bench_train_startup.py [--backends torch,keras,flax] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import load_average

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "digits_cnn.yaml"
ENTRY_POINT = "import sys; from normspec.cli import main; sys.exit(main())"
"""What the ``normspec`` console script runs (``[project.scripts]`` in pyproject.toml)."""
FRAMEWORK_IMPORT = {
    "torch": "import torch",
    "keras": "import keras",
    "flax": "import jax, flax.nnx, optax",
}
LOAD_DATA = (
    'import normspec.cli\nfrom normspec.run.data import load_dataset\nload_dataset("digits")'
)
SHARED = ("python -c pass", "import numpy", "import normspec.cli", "normspec.cli + digits")
Times = dict[str, list[float]]


def environment(cache: Path) -> dict[str, str]:
    """This checkout's package, TensorFlow quiet and oneDNN off, bytecode kept in ``cache``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", KERAS_BACKEND="tensorflow")
    return env


def shared_commands() -> dict[str, list[str]]:
    py = sys.executable
    scripts = ["pass", "import numpy", "import normspec.cli", LOAD_DATA]
    return {label: [py, "-c", script] for label, script in zip(SHARED, scripts, strict=True)}


def backend_commands(backend: str, out: Path, threads: int | None) -> dict[str, list[str]]:
    """The framework's import and the two training runs, run folders under ``out``."""
    py = sys.executable
    commands = {
        "import numpy + framework": [py, "-c", f"import numpy\n{FRAMEWORK_IMPORT[backend]}"]
    }
    for epochs in (1, 3):
        argv = [py, "-c", ENTRY_POINT, "train", str(SPEC), "--backend", backend]
        argv += ["--data", "digits", "--epochs", str(epochs), "--out", str(out / f"e{epochs}")]
        if threads is not None:
            argv += ["--threads", str(threads)]
        commands[f"train, {epochs} epoch{'s' * (epochs > 1)}"] = argv
    return commands


def run(argv: list[str], env: dict[str, str]) -> float:
    """Seconds of wall time of one process; its stderr shown if it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")
    return elapsed


def measure(backends: list[str], repeats: int, threads: int | None, tmp: Path) -> Times:
    """Seconds per run of every process, keyed ``backend: label`` (``label`` for shared ones),
    after an untimed round; each run of a training writes a fresh run folder."""
    env = environment(tmp / "pycache")
    times: Times = {}
    for round_ in range(-1, repeats):
        jobs = list(shared_commands().items())
        for backend in backends:
            out = tmp / "runs" / f"{backend}-{round_ + 1}"
            commands = backend_commands(backend, out, threads)
            jobs += [(f"{backend}: {label}", argv) for label, argv in commands.items()]
        for label, argv in jobs if round_ % 2 == 0 else jobs[::-1]:
            elapsed = run(argv, env)
            if round_ >= 0:
                times.setdefault(label, []).append(elapsed)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.0f} ms"


def report(backend: str, times: Times) -> None:
    """Medians and ranges of the processes, then the fixed cost and its parts."""
    runs = {label: times[label] for label in SHARED}
    prefix = f"{backend}: "
    runs |= {key.removeprefix(prefix): t for key, t in times.items() if key.startswith(prefix)}
    one, three = runs["train, 1 epoch"], runs["train, 3 epochs"]
    runs["steady epoch: (3 epochs - 1 epoch) / 2"] = [
        (c - a) / 2 for a, c in zip(one, three, strict=True)
    ]
    runs["fixed cost: 1 epoch - steady epoch"] = [
        (3 * a - c) / 2 for a, c in zip(one, three, strict=True)
    ]
    print(f"\n{backend}: median and range of each process over {len(one)} rounds")
    for label, values in runs.items():
        print(f"  {label:40} {ms(statistics.median(values))}"
              f"   ({min(values) * 1e3:.0f}-{max(values) * 1e3:.0f})")  # fmt: skip
    med = {label: statistics.median(values) for label, values in runs.items()}
    fixed = med["fixed cost: 1 epoch - steady epoch"]
    parts = {
        "interpreter": med["python -c pass"],
        "numpy import": med["import numpy"] - med["python -c pass"],
        "framework import": med["import numpy + framework"] - med["import numpy"],
        "normspec import (normspec.cli)": med["import normspec.cli"] - med["python -c pass"],
        "data loading (digits)": med["normspec.cli + digits"]
        - med["import normspec.cli"]
        - (med["import numpy"] - med["python -c pass"]),
    }
    parts["remainder, by subtraction (build, compile, write)"] = fixed - sum(parts.values())
    print(f"  fixed cost {fixed * 1e3:.0f} ms, from medians:")
    for label, value in parts.items():
        share = f"{value / fixed:6.1%}" if fixed > 0 else "   n/a"
        print(f"    {label:50} {ms(value)} {share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,keras,flax")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="passed to normspec train (default: auto)")
    args = parser.parse_args()
    backends = args.backends.split(",")
    unknown = set(backends) - set(FRAMEWORK_IMPORT)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    print(f"load average at start: {load_average()}; wall times of {args.repeats} interleaved "
          f"rounds after an untimed one; the remainder is estimated by subtraction")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        times = measure(backends, args.repeats, args.threads, Path(tmp))
    for backend in backends:
        report(backend, times)
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
