"""The command line: exit codes, located errors, atomic output, help texts."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

import normspec
from conftest import ROOT, SPECS
from normspec.cli import main
from normspec.ir.serialize import to_yaml

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
    assert data["hash"].startswith("sha256:") and data["nodes"]


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
        canonical = yaml.safe_load(to_yaml(normspec.load(path)))
        jsonschema.validate(canonical, schema)  # the canonical form, version 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(BAD), schema)
    canonical["nodes"][0] = {"conv2d": {"name": "c", "inputs": ["input"], "filters": 2.5}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(canonical, schema)


@pytest.mark.parametrize("command", ["validate", "canonical", "show", "schema", "build"])
def test_help_has_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "normspec, version" in out


LONG = "k" * 2_000_000
LONG_HEAD = "normspec: 1\ninput: {shape: [8, 8, 3]}\n"

# (case, spec text with a 2 MB word, where its problem is)
LONG_TEXT_CASES = [
    ("top-level key", LONG_HEAD + "layers: [flatten]\n? " + LONG + "\n: 1\n", "4:3"),
    ("layer kind", LONG_HEAD + "layers:\n  - ? " + LONG + "\n    : 1\n", "4:7"),
    ("bare layer", LONG_HEAD + "layers:\n  - " + LONG + "\n", "4:5"),
    ("option key", LONG_HEAD + "layers:\n  - dense:\n      units: 2\n      ? " + LONG + "\n      : 1\n", "6:9"),
    ("option value", LONG_HEAD + "layers:\n  - flatten\n  - dense: {units: 2, activation: " + LONG + "}\n", "5:35"),
    ("optimizer kind", LONG_HEAD + "layers: [flatten]\ntrain: {optimizer: {kind: " + LONG + "}}\n", "4:27"),
    ("layer body", LONG_HEAD + "layers:\n  - flatten: " + LONG + "\n", "4:14"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "where"), [c[1:] for c in LONG_TEXT_CASES], ids=[c[0] for c in LONG_TEXT_CASES]
)
def test_a_huge_word_is_cut_in_every_message(tmp_path, text: str, where: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    code, _, err = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:{where}: " in err
    assert "(2,000,000 characters)" in err
    assert max(len(line) for line in err.splitlines()) < 600, err[:2000]


def test_a_huge_line_with_a_syntax_error_is_not_echoed(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(LONG_HEAD + "layers:\n  - dense: 64, " + LONG + ": relu\n")
    code, _, err = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:4:{16 + len(LONG)}: <root>: YAML syntax error: ',' and ': ' in a plain" in err
    assert max(len(line) for line in err.splitlines()) < 600, err[:2000]


OUTPUT_HEAD = "normspec: 1\ninput: {shape: [8, 8, 1]}\ndefaults: {activation: relu}\n"

# (case, last layers and train section, the warning validate prints or None)
OUTPUT_WARNING_CASES = [
    ("softmax under binary cross-entropy", "  - dense: {units: 10, activation: softmax}\ntrain: {loss: binary_cross_entropy}\n",
     "warning: the network ends in a softmax over 10 units (dense_1_softmax) but the loss is binary_cross_entropy"),
    ("inherited relu output", "  - dense: 10\ntrain: {loss: cross_entropy}\n",
     "warning: the network ends in relu (dense_1_relu), so cross_entropy takes its outputs as logits; end the last layer with activation: softmax or linear"),
    ("tanh under binary cross-entropy", "  - dense: {units: 1, activation: tanh}\ntrain: {loss: binary_cross_entropy}\n",
     "warning: the network ends in tanh (dense_1_tanh), so binary_cross_entropy takes its outputs as logits"),
    ("softmax under cross-entropy", "  - dense: {units: 10, activation: softmax}\n", None),
    ("sigmoid under binary cross-entropy", "  - dense: {units: 1, activation: sigmoid}\n", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tail", "expected"),
    [c[1:] for c in OUTPUT_WARNING_CASES],
    ids=[c[0] for c in OUTPUT_WARNING_CASES],
)
def test_validate_warns_about_an_output_that_does_not_fit_the_loss(
    tmp_path, tail: str, expected: str | None
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(OUTPUT_HEAD + "layers:\n  - flatten\n" + tail)
    code, out, err = run("validate", str(spec))
    assert code == 0, err
    assert f"{spec}: ok (" in out
    warnings = [line for line in err.splitlines() if "warning:" in line]
    if expected is None:
        assert warnings == [], err
    else:
        assert len(warnings) == 1 and warnings[0].startswith(f"{spec}: {expected}"), err


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_train_warns_once(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(OUTPUT_HEAD + "layers:\n  - flatten\n  - dense: 10\n")
    args = ["train", str(spec), "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "r")]
    code, _, err = run(*args)
    assert code == 0, err
    assert err.count("warning: the network ends in relu") == 1, err
