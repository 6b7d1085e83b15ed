"""Memory estimates: ``validate`` and ``show`` report them, and the commands that allocate refuse
up front (exit 2, the estimate and the limit in the message) when it is above the limit:
``--memory-limit``, or by default the machine's physical memory (fixed here at 16 GiB, so the
tests do not depend on the machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import normspec
from conftest import ROOT
from normspec import resources
from normspec.cli import main
from normspec.ir.graph import SGD, Adam
from normspec.resources import format_bytes, parse_memory_size

MLP = ROOT / "specs" / "mlp.yaml"  # 64 -> 64 -> 64 -> 10, adam, batch 32, float32
MACHINE = 16 << 30
REAL_MACHINE_MEMORY = resources.machine_memory  # before the fixture below replaces it

BIG = """\
normspec: 1
name: big
input: {shape: [10000]}
layers:
  - dense: {units: 800000}
"""
BIG_PARAMS = 10_000 * 800_000 + 800_000
BIG_WEIGHTS = BIG_PARAMS * 4 + 10_000 * 800_000 * 8  # float32 weights + float64 draw of the kernel
# float32: starting weights, model, gradients, 2 Adam moments; activations x2 at batch 32
BIG_TRAIN = BIG_PARAMS * 4 * 5 + 2 * 800_000 * 4 * 32

MLP_PARAMS = (64 * 64 + 64) * 2 + 64 * 10 + 10
MLP_WEIGHTS = MLP_PARAMS * 4 + 64 * 64 * 8  # the largest tensor drawn in float64


@pytest.fixture(autouse=True)
def machine_of_16_gib(monkeypatch) -> None:
    monkeypatch.setattr(resources, "machine_memory", lambda: MACHINE)


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, output


@pytest.fixture
def big(tmp_path) -> Path:
    path = tmp_path / "big.yaml"
    path.write_text(BIG)
    return path


@pytest.mark.parametrize(
    ("args", "estimate"),
    [
        (["weights", "init", "{spec}", "-o", "{out}/w.safetensors"], BIG_WEIGHTS),
        (["train", "{spec}", "--data", "digits", "--out", "{out}/run"], BIG_TRAIN),
    ],
    ids=["weights-init", "train"],
)
def test_a_spec_too_big_for_the_machine_is_refused_up_front(
    big: Path, tmp_path, args: list[str], estimate: int
) -> None:
    out = tmp_path / "out"
    code, output = run(*(a.format(spec=big, out=out) for a in args))
    assert code == 2
    assert f"needs about {format_bytes(estimate)}" in output
    assert "above 16.0 GiB (this machine's physical memory)" in output
    assert not out.exists()


def test_the_big_spec_still_validates_and_shows_its_memory(big: Path) -> None:
    code, output = run("validate", big)
    assert code == 0 and ": ok (" in output
    assert f"training needs about {format_bytes(BIG_TRAIN)}" in output
    assert "above this machine's 16.0 GiB" in output
    code, output = run("show", big, "--json")
    assert code == 0
    assert json.loads(output)["memory"]["needs"] == {
        "weights": BIG_WEIGHTS,
        "model": BIG_PARAMS * 4,
        "train": BIG_TRAIN,
    }


@pytest.mark.parametrize(
    ("limit", "code"), [(str(MLP_WEIGHTS - 1), 2), (str(MLP_WEIGHTS), 0), ("1G", 0), ("64K", 2)]
)
def test_memory_limit_refuses_or_lets_through(tmp_path, limit: str, code: int) -> None:
    target = tmp_path / "w.safetensors"
    result, output = run("weights", "init", MLP, "-o", target, "--memory-limit", limit)
    assert result == code, output
    assert target.exists() == (code == 0)
    if code:
        assert f"needs about {format_bytes(MLP_WEIGHTS)}" in output
        assert f"above {format_bytes(parse_memory_size(limit))} (the memory limit given)" in output


@pytest.mark.parametrize(
    "args",
    [
        ["train", MLP, "--data", "digits"],
        ["ablate", MLP, "--data", "digits", "--vary", "train.batch_size=8,16"],
        ["compare", MLP],
        ["compare", MLP, "--train", "--data", "digits"],
        ["weights", "convert", MLP, "missing.pt", "-o", "w.safetensors"],
    ],
    ids=["train", "ablate", "compare", "compare-train", "weights-convert"],
)
def test_every_allocating_command_takes_the_limit(
    tmp_path, monkeypatch, args: list[str | Path]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run(*args, "--memory-limit", "10K")
    assert code == 2 and "above 10.0 KiB (the memory limit given)" in output
    assert list(tmp_path.iterdir()) == []


def test_validate_prints_the_memory_line() -> None:
    code, output = run("validate", MLP)
    assert code == 0
    line = next(line for line in output.splitlines() if line.strip().startswith("memory:"))
    assert f"parameters {format_bytes(MLP_PARAMS * 4)}" in line
    assert f"adam state {format_bytes(2 * MLP_PARAMS * 4)}" in line
    assert "activations at batch 32" in line and "above" not in line


@pytest.mark.parametrize(
    ("optimizer", "slots"),
    [
        (Adam(learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8), 2),
        (SGD(learning_rate=0.1, momentum=0.9, nesterov=False), 1),
        (SGD(learning_rate=0.1, momentum=0.0, nesterov=False), 0),
    ],
)
def test_optimizer_state(optimizer: SGD | Adam, slots: int) -> None:
    memory = normspec.estimate_memory(MLP, optimizer=optimizer)
    assert memory.optimizer_bytes == slots * MLP_PARAMS * 4
    assert memory.training_activation_bytes == 2 * memory.activation_bytes


FROZEN = """\
normspec: 1
name: frozen
input: {shape: [3]}
layers:
  - dense: 4
  - batch_norm: {}
"""


def test_frozen_state_has_no_gradient_or_optimizer_state() -> None:
    memory = normspec.estimate_memory(FROZEN)
    trainable = 3 * 4 + 4 + 2 * 4  # dense kernel and bias; batch-norm scale and shift
    assert memory.parameter_bytes == (trainable + 2 * 4) * 4  # running mean and variance
    assert memory.optimizer_bytes == 2 * trainable * 4


def test_python_api_refuses_before_allocating() -> None:
    with pytest.raises(normspec.ResourceError, match="init_weights needs about"):
        normspec.init_weights(BIG)
    with pytest.raises(normspec.ResourceError, match=r"a torch model needs about 29\.8 GiB"):
        normspec.build(BIG, "torch")
    with pytest.raises(normspec.ResourceError, match=r"above 1\.0 KiB"):
        normspec.check_memory(MLP, "train", limit="1K")
    assert (
        normspec.check_memory(MLP, "train", limit="1G").total
        == resources.estimate_memory(normspec.load(MLP)).need("train").total
    )
    assert set(normspec.init_weights(MLP, memory_limit=MLP_WEIGHTS)) >= {"dense_1.kernel"}


@pytest.mark.parametrize(
    ("text", "count"),
    [("4096", 4096), ("64k", 64 << 10), ("512M", 512 << 20), ("8G", 8 << 30),
     ("1.5G", 3 << 29), ("2GiB", 2 << 30), ("1TB", 1 << 40), (" 3 m ", 3 << 20)],
)  # fmt: skip
def test_memory_sizes(text: str, count: int) -> None:
    assert parse_memory_size(text) == count


@pytest.mark.parametrize("text", ["8X", "", "-1", "0", "1e9", "G", "0.1", "9" * 30])
def test_bad_memory_sizes_are_usage_errors(tmp_path, monkeypatch, text: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(normspec.ResourceError):
        parse_memory_size(text)
    code, output = run("weights", "init", MLP, "-o", "w.safetensors", "--memory-limit", text)
    assert code == 2 and "--memory-limit" in output
    assert list(tmp_path.iterdir()) == []


def test_machine_memory_is_read() -> None:
    memory = REAL_MACHINE_MEMORY()
    assert memory is None or memory >= 1 << 20
