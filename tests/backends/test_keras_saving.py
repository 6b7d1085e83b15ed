"""Saved Keras models: importing the generated module registers its custom classes, their
configs rebuild them exactly, and a ``.keras`` file loads back in this process or, after the
module's import, in a fresh one."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from normspec import reference
from normspec.parity import parity_weights
from parity_cases import make_spec

pytest.importorskip("keras")
pytestmark = pytest.mark.keras

from test_keras_backend import ALL_WEIGHTS, FLAT, ODD  # noqa: E402

from normspec.backends.keras import BACKEND, ENVIRONMENT  # noqa: E402
from normspec.backends.keras.helpers import HELPERS  # noqa: E402

ALL_HELPERS = make_spec(ODD, ALL_WEIGHTS, "standardize", "float64", name="saved")
CLASSES = {name for name, helper in HELPERS.items() if helper.is_class}
RESCALED = make_spec(FLAT, "- dense: 2", "{kind: rescale, scale: 0.5, offset: 1.0}", "float64")


def _helper_objects(model) -> list:  # type: ignore[no-untyped-def]
    """The model's custom layers and initializers: instances of a class of HELPERS."""
    found = []
    for layer in model.layers:
        found += [layer, getattr(layer, "kernel_initializer", None)]
    return [obj for obj in found if type(obj).__name__ in CLASSES]


def _arguments(cls: type) -> set[str]:
    """The named constructor arguments; those of the parent for ``__init__(*args, **kw)``."""
    for klass in cls.__mro__:
        params = inspect.signature(klass.__init__).parameters.values()  # type: ignore[misc]
        if all(p.kind is not p.VAR_POSITIONAL for p in params):
            return {p.name for p in params if p.kind is not p.VAR_KEYWORD} - {"self"}
    raise AssertionError(cls)


def test_every_custom_class_has_a_config_that_rebuilds_it() -> None:
    objects = [
        obj for spec in (ALL_HELPERS, RESCALED) for obj in _helper_objects(BACKEND.build(spec))
    ]
    assert {type(obj).__name__ for obj in objects} == CLASSES
    for obj in objects:
        config = obj.get_config()
        arguments = _arguments(type(obj))
        assert arguments <= config.keys(), type(obj).__name__
        assert type(obj).from_config(config).get_config() == config, type(obj).__name__


def _docstring(spec) -> str:  # type: ignore[no-untyped-def]
    return " ".join((ast.get_docstring(ast.parse(BACKEND.emit(spec))) or "").split())


def _classes(spec) -> list[str]:  # type: ignore[no-untyped-def]
    tree = ast.parse(BACKEND.emit(spec))
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def test_the_module_docstring_says_how_a_saved_model_loads() -> None:
    doc = _docstring(ALL_HELPERS)
    assert "importing this module registers its custom classes" in doc
    assert "under the package 'saved'" in doc
    assert "in any process that has imported this module first" in doc
    assert "no ``custom_objects`` are needed" in doc
    assert set(_classes(ALL_HELPERS)) == CLASSES - {"ExactRescaling"}
    for name in _classes(ALL_HELPERS):
        assert name in doc
    assert "registers" not in _docstring(make_spec(FLAT, "- dense: 2"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_saved_model_loads_back_in_this_process(dtype: str, tmp_path: Path) -> None:
    import keras

    spec = make_spec(ODD, ALL_WEIGHTS, "standardize", dtype)
    model = BACKEND.build(spec)
    BACKEND.set_weights(model, spec, parity_weights(spec, seed=9))
    x = reference.init_batch(spec, 2, seed=10)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]


def test_a_saved_model_whose_statistics_were_never_set_still_refuses_to_run(
    tmp_path: Path,
) -> None:
    import keras

    BACKEND.build(ALL_HELPERS).save(tmp_path / "unset.keras")
    loaded = keras.saving.load_model(tmp_path / "unset.keras")
    with pytest.raises(RuntimeError, match="mean and std are not set"):
        loaded(reference.init_batch(ALL_HELPERS, 2, seed=10), training=False)


def _import(path: Path) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


LOAD = """\
import sys
import numpy as np
import keras
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "import":
    import saved_model  # noqa: F401
model = keras.saving.load_model(sys.argv[1] + "/model.keras")
x = np.load(sys.argv[1] + "/x.npy")
np.save(sys.argv[1] + "/loaded.npy", keras.ops.convert_to_numpy(model(x, training=False)))
"""


def _load_in_a_fresh_process(folder: Path, first: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENVIRONMENT}
    return subprocess.run(
        [sys.executable, "-c", LOAD, str(folder), first],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_fresh_process_loads_a_saved_model_after_importing_the_module(
    tmp_path: Path,
) -> None:
    import keras

    (tmp_path / "saved_model.py").write_text(BACKEND.emit(ALL_HELPERS))
    model = _import(tmp_path / "saved_model.py").build_saved()
    BACKEND.set_weights(model, ALL_HELPERS, parity_weights(ALL_HELPERS, seed=3))
    x = reference.init_batch(ALL_HELPERS, 2, seed=4)
    np.save(tmp_path / "x.npy", x)
    model.save(tmp_path / "model.keras")
    result = _load_in_a_fresh_process(tmp_path, "import")
    assert result.returncode == 0, result.stderr
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(np.load(tmp_path / "loaded.npy"), expected)
    result = _load_in_a_fresh_process(tmp_path, "skip")
    assert result.returncode != 0
    assert "Could not locate class 'Standardize'" in result.stderr
