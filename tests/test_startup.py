"""What a core command loads: no framework, no framework-backed command module, only the
validators its spec needs; and the collector settings of these short-lived commands."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS
from normspec.short_lived import short_lived

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "flax")
OPTIONAL_COMMAND_MODULES = ("normspec.cli_compare", "normspec.cli_run", "normspec.cli_weights")
SPEC = str(SPECS[0])
DENSE_ONLY = "normspec: 1\ninput: {shape: [4]}\nlayers:\n  - dense: {units: 3, activation: relu}\n"


def run_python(script: str) -> str:
    """stdout of ``script`` run in a fresh interpreter on this checkout."""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["validate", SPEC],
        ["canonical", SPEC],
        ["canonical", "--json", SPEC],
        ["show", SPEC],
        ["show", SPEC, "--json"],
        ["schema"],
        ["build", SPEC, "--backend", "torch"],
        ["build", SPEC, "--backend", "keras"],
        ["build", SPEC, "--backend", "flax"],
    ],
    ids=lambda args: " ".join(args).replace(SPEC, "SPEC"),
)
def test_core_command_imports_no_framework_nor_framework_command(args: list[str]) -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from normspec.cli import main\n"
        f"result = CliRunner().invoke(main, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(set({FRAMEWORKS + OPTIONAL_COMMAND_MODULES!r}) & set(sys.modules)))\n"
    )
    assert run_python(script).strip() == "[]"


def test_framework_command_module_loads_when_its_command_runs() -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from normspec.cli import main\n"
        "result = CliRunner().invoke(main, ['weights', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('normspec.cli_weights' in sys.modules, 'normspec.cli_run' in sys.modules)\n"
    )
    assert run_python(script).split() == ["True", "False"]


def test_validators_are_built_for_the_ops_a_spec_uses_only() -> None:
    script = (
        "import normspec\n"
        "from normspec.ir import ops as ir\n"
        "from normspec.spec import canonicalize, models as m\n"
        "built = lambda: sorted(c.__name__ for c in [*ir.OP_CLASSES, m.ConvLayer, m.DenseLayer]"
        " if c.__pydantic_complete__)\n"
        "print(built())\n"
        f"normspec.load({DENSE_ONLY!r})\n"
        "print(built())\n"
    )
    at_import, after_load = run_python(script).splitlines()
    assert at_import == "[]"
    assert after_load == "['Activation', 'Dense', 'DenseLayer']"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [("return", None), ("exit 2", SystemExit), ("raise", ValueError)],
)
def test_collector_is_paused_during_a_short_lived_command_and_restored(
    outcome: str, expected: type[BaseException] | None
) -> None:
    seen: list[bool] = []

    @short_lived
    def command() -> None:
        seen.append(gc.isenabled())
        if outcome == "exit 2":
            sys.exit(2)
        if outcome == "raise":
            raise ValueError("boom")

    assert gc.isenabled()
    if expected is None:
        command()
    else:
        with pytest.raises(expected):
            command()
    assert seen == [False]
    assert gc.isenabled()


def test_objects_are_frozen_at_exit_after_a_core_command() -> None:
    script = (
        "import atexit, gc\n"
        "from click.testing import CliRunner\n"
        "from normspec.cli import main\n"
        # registered first, so it runs after the handlers the command registers
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
        f"CliRunner().invoke(main, ['validate', {SPEC!r}])\n"
    )
    assert run_python(script).split() == ["True"]
