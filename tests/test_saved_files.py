"""Files written by earlier versions keep working: a spec, its canonical form and a weight file
saved for it (tests/data/v1, written with the version-1 canonical form) load, and the model
gives the outputs recorded when they were written, in the reference and in every backend."""

from __future__ import annotations

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec import reference
from normspec.backends import get_backend
from normspec.parity import TOLERANCE, error
from test_backends_shared import BACKENDS, available

DATA = ROOT / "tests" / "data" / "v1"
RECORDED = np.load(DATA / "small_resnet_outputs.npz")


@pytest.mark.parametrize("source", ["small_resnet.yaml", "small_resnet.canonical.yaml"])
def test_a_saved_weight_file_loads_and_gives_the_recorded_outputs(source: str) -> None:
    spec = normspec.load(DATA / source)
    weights = normspec.load_weights(DATA / "small_resnet.safetensors", spec)
    for mode in ("eval", "train"):
        outputs, _ = reference.forward(spec, weights, RECORDED["x"], train=mode == "train")
        np.testing.assert_allclose(outputs["output"], RECORDED[mode], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_gives_the_recorded_outputs_from_the_saved_weights(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    spec = normspec.load(DATA / "small_resnet.yaml")
    weights = normspec.load_weights(DATA / "small_resnet.safetensors", spec)
    model = normspec.build(spec, backend)
    get_backend(backend).set_weights(model, spec, weights)
    outputs = normspec.layer_outputs(model, spec, RECORDED["x"])
    assert error(outputs["output"], RECORDED["eval"])[1] <= TOLERANCE["float32"]
