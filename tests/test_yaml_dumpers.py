"""The libyaml dumper writes the canonical YAML byte for byte as PyYAML's Python dumper does."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

import normspec
from conftest import ROOT, SPECS
from normspec.ir.serialize import to_yaml
from normspec.ir.yaml_dumpers import DUMPER, CDumper, PythonDumper

needs_libyaml = pytest.mark.skipif(CDumper is None, reason="PyYAML built without libyaml")

SHARED = [1, 2]
SHARED_MAP = {"a": [1, 2]}
# (case, data): plain data of the kinds canonical data holds, and some it does not
DATA_TABLE = [
    ("scalars", {"s": "relu", "i": 3, "f": 1e-05, "big": 1e17, "t": True, "n": None, "neg": -0.5}),
    (
        "text that needs quotes",
        {
            "a": "yes",
            "b": "1e3",
            "c": "",
            "d": "null",
            "e": "a: b",
            "f": "~",
            "g": "0x1f",
            "h": "#x",
        },
    ),
    ("non-finite floats", {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}),
    (
        "flow and block lists",
        {"shape": [8, 8, 3], "padding": [[1, 1], [0, 2]], "layers": [{"dense": {"units": 2}}]},
    ),
    ("long flow list wraps", {"mean": [0.123456789 * i for i in range(40)]}),
    ("container met twice", {"x": SHARED, "y": SHARED, "m": SHARED_MAP, "n": SHARED_MAP}),
    ("tuple and non-str keys", {1: (1, 2), 2.5: "v", None: [], "empty": {}}),
    ("unicode", {"name": "café", "emoji": "\u2603"}),
]


@needs_libyaml
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_c_dumper_writes_the_python_dumpers_canonical_yaml(path) -> None:
    spec = normspec.load(path)
    assert to_yaml(spec, CDumper) == to_yaml(spec, PythonDumper)


@needs_libyaml
@pytest.mark.parametrize(
    "options",
    [
        {"sort_keys": False, "width": 100},
        {"sort_keys": True},
        {"sort_keys": False, "default_flow_style": None},
    ],  # not default_style: libyaml writes a quoted int's tag as "!", PyYAML as "!!int"
    ids=["canonical options", "sorted keys", "best flow style"],
)
@pytest.mark.parametrize("data", [d for _, d in DATA_TABLE], ids=[c for c, _ in DATA_TABLE])
def test_c_dumper_writes_the_python_dumpers_bytes(data: Any, options: dict[str, Any]) -> None:
    expected = yaml.dump(data, Dumper=PythonDumper, **options)
    assert yaml.dump(data, Dumper=CDumper, **options) == expected


def test_canonical_yaml_uses_libyaml_when_present() -> None:
    assert DUMPER is (CDumper if yaml.__with_libyaml__ else PythonDumper)


def test_without_libyaml_the_python_dumper_writes_the_canonical_yaml() -> None:
    script = (
        "import yaml\n"
        "yaml.__with_libyaml__ = False\n"
        "import normspec\n"
        "from normspec.ir.serialize import to_yaml\n"
        "from normspec.ir.yaml_dumpers import DUMPER, CDumper, PythonDumper\n"
        f"print(CDumper is None, DUMPER is PythonDumper, to_yaml(normspec.load({str(SPECS[0])!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out == f"True True {to_yaml(normspec.load(SPECS[0]), PythonDumper)}\n"
