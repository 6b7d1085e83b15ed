"""The command line: exit codes, located errors, atomic output, help texts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import ROOT, SPECS
from normspec.cli import main

BAD = "normspec: 1\ninput: {shape: [4]}\nlayers:\n  - dense: {units: 3, activaton: relu}\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_ok() -> None:
    code, out, _ = run("validate", *map(str, SPECS))
    assert code == 0
    assert out.count(": ok (") == len(SPECS)


def test_invalid_spec_exits_2_with_location_and_no_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    code, out, err = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:4:23: layers[0].dense.activaton: unknown key 'activaton'" in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("command", ["canonical", "show", "build"])
def test_failed_command_leaves_no_file(tmp_path, command: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    target = tmp_path / "out.txt"
    args = [command, str(bad)] + (["--backend", "torch"] if command == "build" else [])
    if command != "show":
        args += ["-o", str(target)]
    code, _, _ = run(*args)
    assert code == 2
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_canonical_to_file_and_json(tmp_path) -> None:
    target = tmp_path / "c.yaml"
    assert run("canonical", str(SPECS[0]), "-o", str(target))[0] == 0
    code, out, _ = run("canonical", str(target), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["hash"].startswith("sha256:") and data["layers"]


def test_show_has_totals() -> None:
    code, out, _ = run("show", str(ROOT / "specs" / "lenet5.yaml"))
    assert code == 0
    assert "Total params: 61,706" in out and "Non-trainable params: 0" in out
    assert "conv2d_1" in out and "(None, 28, 28, 6)" in out


def test_schema_is_json_schema_and_accepts_every_spec() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for path in SPECS:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(BAD), schema)


@pytest.mark.parametrize("command", ["validate", "canonical", "show", "schema", "build"])
def test_help_has_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "normspec, version" in out
