"""Data sets, batching, input statistics, numpy metrics and ablation variants (no framework)."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec.batching import batch_count, batches
from normspec.run import metrics
from normspec.run.ablate import AblationError, Variation, variants
from normspec.run.data import DataError, channel_stats, load_dataset
from normspec.run.train import starting_weights


@pytest.mark.parametrize(
    ("name", "shape", "classes"),
    [
        ("digits", (8, 8, 1), 10),
        ("threshold", (1,), 2),
        ("moons", (2,), 2),
        ("synthetic_cifar", (32, 32, 3), 10),
    ],
)
def test_builtin_data_sets(name: str, shape: tuple, classes: int) -> None:
    data = load_dataset(name, seed=0, validation_split=0.25)
    assert data.x_train.shape[1:] == shape
    assert data.num_classes == classes
    total = len(data.x_train) + len(data.x_val)
    assert len(data.x_val) == round(total * 0.25)
    assert data.x_train.dtype == np.float32


def test_threshold_is_the_classic_problem() -> None:
    data = load_dataset("threshold", validation_split=0.0)
    x, y = data.x_train[:, 0], data.y_train
    assert sorted(x.tolist()) == list(range(25_000))
    assert np.array_equal(y, (x >= 12_500).astype(np.int64))


def test_split_is_reproducible_and_seed_dependent() -> None:
    a, b = load_dataset("digits", seed=1), load_dataset("digits", seed=1)
    c = load_dataset("digits", seed=2)
    assert np.array_equal(a.y_val, b.y_val) and not np.array_equal(a.y_val, c.y_val)


def test_batches_depend_only_on_seed_and_epoch() -> None:
    x, y = np.arange(10.0)[:, None], np.arange(10)
    first = [b[1].tolist() for b in batches(x, y, 4, seed=3, epoch=0)]
    again = [b[1].tolist() for b in batches(x, y, 4, seed=3, epoch=0)]
    other = [b[1].tolist() for b in batches(x, y, 4, seed=3, epoch=1)]
    assert first == again and first != other
    assert sorted(i for b in first for i in b) == list(range(10))
    assert [len(b) for b in first] == [4, 4, 2]
    # a last batch of one sample is dropped: batch norm needs two
    assert [len(b[1]) for b in batches(np.zeros((9, 1)), np.zeros(9), 4, seed=0, epoch=0)] == [4, 4]


def test_npz_file(tmp_path) -> None:
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=np.ones((10, 3)),
        y_train=np.arange(10) % 2,
        x_test=np.zeros((2, 3)),
        y_test=np.ones(2),
    )
    data = load_dataset(str(path), validation_split=0.2)
    assert data.x_train.shape == (8, 3) and data.x_test.shape == (2, 3)
    np.savez(tmp_path / "bad.npz", x=np.ones(3))
    with pytest.raises(DataError, match="missing arrays"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_keras_cache_is_used_and_its_absence_explained(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match="not in the Keras cache"):
        load_dataset("mnist")
    cache = tmp_path / "datasets"
    cache.mkdir()
    np.savez(
        cache / "mnist.npz",
        x_train=np.zeros((20, 28, 28), np.uint8),
        y_train=np.arange(20) % 10,
        x_test=np.zeros((5, 28, 28), np.uint8),
        y_test=np.arange(5),
    )
    data = load_dataset("mnist", validation_split=0.5)
    assert data.x_train.shape == (10, 28, 28, 1) and data.x_test.shape == (5, 28, 28, 1)
    fashion = cache / "fashion-mnist"
    fashion.mkdir()
    for stem, offset, n in [
        ("train-images-idx3-ubyte", 16, 6 * 784),
        ("t10k-images-idx3-ubyte", 16, 2 * 784),
        ("train-labels-idx1-ubyte", 8, 6),
        ("t10k-labels-idx1-ubyte", 8, 2),
    ]:
        with gzip.open(fashion / f"{stem}.gz", "wb") as f:
            f.write(bytes(offset) + (np.arange(n) % 10).astype(np.uint8).tobytes())
    data = load_dataset("fashion_mnist", validation_split=0.0)
    assert data.x_train.shape == (6, 28, 28, 1) and data.y_test.shape == (2,)


def test_unknown_data_set() -> None:
    with pytest.raises(DataError, match="unknown data set 'imagenet'"):
        load_dataset("imagenet")


def test_standardization_is_fitted_on_the_training_split_only() -> None:
    spec = normspec.load(ROOT / "specs" / "threshold_input_norm.yaml")
    data = load_dataset("threshold", seed=0)
    weights = starting_weights(spec, data, seed=0)
    mean, std = channel_stats(data.x_train, 1e-7)
    assert weights["input_norm.mean"][0] == pytest.approx(mean[0], rel=1e-6)
    assert weights["input_norm.std"][0] == pytest.approx(std[0], rel=1e-6)
    assert abs(mean[0] - np.mean(data.x_val)) > 0  # the validation split is not used


def test_losses_follow_the_output() -> None:
    softmax = normspec.load(
        "normspec: 1\ninput: {shape: [2]}\nlayers: [{dense: {units: 3, activation: softmax}}]\n"
    )
    logits = normspec.load(
        "normspec: 1\ninput: {shape: [2]}\nlayers: [{dense: {units: 3}}]\ntrain: {loss: cross_entropy}\n"
    )
    sigmoid = normspec.load(
        "normspec: 1\ninput: {shape: [2]}\nlayers: [{dense: {units: 1, activation: sigmoid}}]\n"
    )
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([1, 2])
    expected = -np.mean(np.log(p[[0, 1], y]))
    assert metrics.loss(softmax, p, y) == pytest.approx(expected)
    assert metrics.loss(logits, z, y) == pytest.approx(expected)
    assert metrics.accuracy(logits, z, y) == 1.0
    prob = np.array([[0.9], [0.2]])
    assert metrics.loss(sigmoid, prob, np.array([1, 0])) == pytest.approx(
        -(np.log(0.9) + np.log(0.8)) / 2
    )
    assert metrics.accuracy(sigmoid, prob, np.array([1, 1])) == 0.5


def test_ablation_variants_change_only_the_varied_default() -> None:
    path = ROOT / "specs" / "cnn_bn_after_relu.yaml"
    specs = variants(
        path, [Variation.parse("norm.position=before_activation,after_activation,none")]
    )
    assert list(specs) == [
        "norm.position=before_activation",
        "norm.position=after_activation",
        "norm.position=none",
    ]
    orders = {label: [op.op for op in spec.ops[:3]] for label, spec in specs.items()}
    assert orders["norm.position=before_activation"] == ["rescale", "conv2d", "batch_norm"]
    assert orders["norm.position=after_activation"] == ["rescale", "conv2d", "activation"]
    assert "batch_norm" not in [op.op for op in specs["norm.position=none"].ops]
    grid = variants(
        path,
        [
            Variation.parse("norm.kind=batch,layer"),
            Variation.parse("input.normalize=none,standardize"),
        ],
    )
    assert len(grid) == 4


def test_bad_variation() -> None:
    with pytest.raises(AblationError):
        Variation.parse("norm.position")


def test_invalid_variant_names_the_variation_not_a_line_of_the_rewritten_spec() -> None:
    path = ROOT / "specs" / "cnn_bn_after_relu.yaml"
    with pytest.raises(AblationError) as info:
        variants(path, [Variation.parse("norm.position=before_activation,sideways")])
    message = str(info.value)
    assert "the variant --vary norm.position=sideways is invalid" in message
    assert "defaults.norm.position: got 'sideways'" in message


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("norm.position=[a", "cannot read '[a'"),
        ("norm.kind=batch,batch", "repeats a value"),
        ("norm.kind=batch,,layer", "has an empty value"),
    ],
)
def test_bad_variation_values(option: str, message: str) -> None:
    with pytest.raises(AblationError, match=re.escape(message)):
        Variation.parse(option)


def test_variation_values_may_be_mappings() -> None:
    variation = Variation.parse("norm={kind: batch, position: after_activation},none")
    assert variation.path == ("defaults", "norm")
    assert variation.values == ({"kind": "batch", "position": "after_activation"}, "none")


@pytest.mark.parametrize(
    ("last", "loss", "warned"),
    [
        ("{units: 10}", "cross_entropy", True),  # inherits relu from defaults
        ("{units: 10, activation: softmax}", "cross_entropy", False),
        ("{units: 10, activation: linear}", "cross_entropy", False),
        ("{units: 1, activation: sigmoid}", "binary_cross_entropy", False),
        ("{units: 1, activation: tanh}", "binary_cross_entropy", True),
        ("{units: 1}", "mean_squared_error", False),
    ],
)
def test_output_warning_catches_an_inherited_activation(last: str, loss: str, warned: bool):
    from normspec.ir.output_checks import output_warnings

    spec = normspec.load(
        "normspec: 1\ninput: {shape: [4]}\ndefaults: {activation: relu}\n"
        f"layers:\n  - dense: 8\n  - dense: {last}\ntrain: {{loss: {loss}}}\n"
    )
    messages = output_warnings(spec)
    assert len(messages) == warned
    if warned:
        assert "takes its outputs as logits" in messages[0]
        assert "defaults.activation" in messages[0]


@pytest.mark.parametrize("samples", [2, 31, 32, 33, 34, 65])
def test_batch_count_is_the_number_of_batches(samples: int) -> None:
    """The progress bars size each epoch with batch_count; a lone last sample is dropped."""
    made = list(batches(np.zeros((samples, 1)), np.zeros(samples), 32, seed=0, epoch=0))
    assert batch_count(samples, 32) == len(made)


def test_digits_are_read_without_importing_scikit_learn() -> None:
    """The same arrays as ``sklearn.datasets.load_digits``, in a process that never imports
    scikit-learn (its import costs most of a second of every short run)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from normspec.run.data import _digits\n"
        "x, y = _digits(0)\n"
        "print('sklearn' in sys.modules, x.shape, x.dtype, y.dtype, int(x.sum()), int(y.sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()  # fmt: skip
    from sklearn.datasets import load_digits

    bunch = load_digits()
    expected = [False, "(1797,", "8,", "8,", "1)", "float32", "int64",
                int(bunch.images.sum()), int(bunch.target.sum())]  # fmt: skip
    assert [out[0] == "True", *out[1:7], int(out[7]), int(out[8])] == expected
    from normspec.run.data import _digits

    x, y = _digits(0)
    assert np.array_equal(x[..., 0], bunch.images) and np.array_equal(y, bunch.target)
