"""The README's examples are the project's files and commands, verbatim."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT
from normspec.cli import main
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
