"""The README's examples are the project's files and commands, verbatim."""

from __future__ import annotations

import importlib.util
import pickle
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import normspec
from conftest import ROOT
from normspec.cli import main
from normspec.ir import ops as ir
from test_backends_shared import available

README = (ROOT / "README.md").read_text()


def opening_spec() -> str:
    block = re.search(r"```yaml\n(.*?)```", README, re.S)
    assert block is not None
    return block.group(1)


def test_opening_spec_is_the_file_it_names() -> None:
    text = opening_spec()
    first, rest = text.split("\n", 1)
    assert first.startswith("# ")
    assert rest == (ROOT / first[2:].strip()).read_text()


def weights_commands() -> list[list[str]]:
    section = README[README.index("## Weights") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("normspec ")]


def test_weights_section_makes_the_file_it_converts() -> None:
    commands = weights_commands()
    made = {c[c.index("-o") + 1] for c in commands if "-o" in c}
    made |= {f"{c[c.index('--out') + 1]}/weights.safetensors" for c in commands if "--out" in c}
    for command in commands:
        if command[:2] == ["weights", "convert"]:
            assert command[3] in made, f"{command[3]} is read before a command makes it"


@pytest.mark.slow
@pytest.mark.skipif(
    not all(map(available, ("torch", "keras", "flax"))), reason="needs every backend"
)
def test_weights_section_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mlp.yaml").write_text((ROOT / "specs" / "mlp.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    for command in weights_commands():
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, (command, result.output)
    assert Path("mlp.msgpack").stat().st_size > 0


def flax_loading_snippet() -> str:
    """The Python block of "The generated model in your own code" that loads a ``.msgpack``."""
    start = README.index("## The generated model in your own code")
    section = README[start : README.index("\n## ", start + 1)]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if ".msgpack" in b]
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.skipif(not available("flax"), reason="needs flax")
def test_flax_loading_snippet_runs_verbatim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snippet, run in a folder holding the module and the weights its comments name,
    loads every weight; the model then trains, and evaluates with the loaded statistics."""
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import nnx

    snippet = flax_loading_snippet()
    build = re.search(r"`normspec (build \S+ --backend flax -o (\w+)\.py)`", snippet)
    msgpack = re.search(r'Path\("(\w+\.msgpack)"\)', snippet)
    assert build is not None and msgpack is not None
    command, module = shlex.split(build.group(1)), build.group(2)
    spec_path = command[1]
    (tmp_path / "specs").mkdir()
    (tmp_path / spec_path).write_text((ROOT / spec_path).read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    init = ["weights", "init", spec_path, "--seed", "3", "-o", "w.safetensors"]
    convert = ["weights", "convert", spec_path, "w.safetensors", "-o", msgpack.group(1)]
    for args in (command, init, convert):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    model, spec = namespace["model"], normspec.load(spec_path)

    from normspec.backends.flax import BACKEND

    expected = normspec.load_weights("w.safetensors", spec)
    loaded = BACKEND.get_weights(model, spec)
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, *spec.input.shape)), jnp.float32)

    def loss(model: nnx.Module) -> jnp.ndarray:
        return jnp.mean(jnp.square(model(x)))

    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    optimizer.update(model, nnx.grad(loss)(model))  # train mode: batch statistics
    moved = BACKEND.get_weights(model, spec)
    running = [f"{s.op.name}.mean" for s in spec.nodes if isinstance(s.op, ir.BatchNorm)]
    assert running and all(not np.array_equal(moved[k], expected[k]) for k in running)
    model.eval()
    assert np.isfinite(np.asarray(model(x))).all()


@pytest.mark.skipif(
    not all(map(available, ("torch", "keras", "flax"))), reason="needs every backend"
)
def test_adapt_snippet_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block that fits input statistics, run as written on modules built as its comment
    says; each model then runs."""
    import numpy as np

    start = README.index("## The generated model in your own code")
    section = README[start : README.index("\n## ", start + 1)]
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if ".adapt(" in b]
    for backend in ("torch", "keras", "flax"):
        out = tmp_path / f"threshold_{backend}.py"
        spec = str(ROOT / "specs" / "threshold_input_norm.yaml")
        args = ["build", spec, "--backend", backend, "-o", str(out)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    monkeypatch.syspath_prepend(str(tmp_path))
    x_train = np.arange(0, 25_000, 25, dtype=np.float32)[:, None]
    namespace: dict[str, Any] = {"x_train": x_train}
    exec(block, namespace)
    model = namespace["model"]  # the Flax one, last
    assert float(model.input_norm.mean[...][0]) == pytest.approx(x_train.mean())
    assert model(x_train[:4]).shape == (4, 1)


def real_data_commands() -> list[list[str]]:
    """The commands of "Real MNIST and CIFAR-10", continued lines joined."""
    start = README.index("### Real MNIST and CIFAR-10")
    block = re.search(r"```sh\n(.*?)```", README[start:], re.S)
    assert block is not None
    text = block.group(1).replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.strip()]


def plant_keras_cache(home: Path) -> None:
    """A small MNIST and CIFAR-10 (their real shapes and dtypes) where Keras leaves them."""
    import numpy as np

    rng = np.random.default_rng(0)
    cache = home / "datasets"
    cache.mkdir(parents=True)
    np.savez(
        cache / "mnist.npz",
        x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        y_train=(np.arange(40) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=(np.arange(10) % 10).astype(np.uint8),
    )
    cifar = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"labels": [int(v) for v in rng.integers(0, 10, 8)],
            b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8),
        }
        (cifar / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_real_data_commands_run_on_a_keras_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block's commands, run as written on a small MNIST and CIFAR-10 planted where Keras
    leaves them (all but the first, which downloads the real ones): each reads its data set
    and trains."""
    commands = real_data_commands()
    assert commands[0][:2] == ["python", "-c"] and "keras.datasets.cifar10" in commands[0][2]
    plant_keras_cache(tmp_path / "keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    for command in commands[1:]:
        if command[0] == "normspec":
            result = CliRunner().invoke(main, command[1:])
            assert result.exit_code == 0, (command, result.output)
            continue
        assert command[:2] == ["python", "examples/elu_without_bn.py"], command
        path = ROOT / command[1]
        module_spec = importlib.util.spec_from_file_location("readme_elu_without_bn", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        monkeypatch.setitem(sys.modules, module_spec.name, module)
        module_spec.loader.exec_module(module)
        monkeypatch.setattr(module, "ROOT", tmp_path)
        monkeypatch.setattr(sys, "argv", command[1:])
        module.main()
    assert '"test_accuracy"' in (tmp_path / "runs" / "cifar10" / "metrics.json").read_text()
    assert (tmp_path / "runs" / "elu_without_bn" / "report.md").exists()
