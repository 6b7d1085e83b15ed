"""Outcome labels from measurements, and validation with batch statistics (train mode) beside
validation with the running statistics (eval mode)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import normspec
from normspec import reference
from normspec.backends import get_backend
from normspec.parity import error, parity_weights, with_dtype
from normspec.run.outcomes import Outcome, outcome, summary
from normspec.run.train import History
from normspec.run.validation import chunks, train_mode_outputs, uses_batch_statistics
from test_backends_shared import BACKENDS, available

NAN = math.nan


def history(*rows: tuple[float, float, float, float]) -> History:
    """Rows of (loss, accuracy, val_accuracy, val_train_mode_accuracy)."""
    return History("torch", [
        {"epoch": float(i + 1), "loss": loss, "accuracy": acc, "val_loss": 1.0,
         "val_accuracy": val, "val_train_mode_loss": 1.0, "val_train_mode_accuracy": batch}
        for i, (loss, acc, val, batch) in enumerate(rows)
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "label", "detail"),
    [
        ([(0.5, 0.9, 0.9, 0.9), (NAN, NAN, 0.1, 0.1)], "diverged",
         "training loss not finite from epoch 2"),
        ([(2.3, 0.11, 0.12, 0.12)], "stuck", "training accuracy 0.110, chance 0.100"),
        ([(0.1, 0.98, 0.12, 0.95)], "eval-mode lag",
         "validation accuracy 0.120 with the running statistics, 0.950 with batch statistics; "
         "training accuracy 0.980"),
        ([(2.3, 0.3, 0.11, 0.11), (0.2, 0.95, 0.9, 0.9)], "slow start",
         "validation accuracy 0.110 after epoch 1 (chance 0.100), 0.900 at the end"),
        ([(0.2, 0.95, 0.9, 0.95)], "trained", "validation accuracy 0.900, chance 0.100"),
        ([(0.2, 0.95, NAN, NAN)], "trained", "training accuracy 0.950, chance 0.100"),
    ],
)  # fmt: skip
def test_outcome_labels_follow_their_definitions(rows, label: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    assert outcome(history(*rows), chance=0.1) == Outcome(label, detail)


def test_a_lag_smaller_than_the_gap_is_not_a_lag() -> None:
    assert outcome(history((0.1, 0.98, 0.9, 0.99)), chance=0.1).label == "trained"


def test_summary_counts_each_label_and_shows_the_first_detail() -> None:
    runs = [Outcome("eval-mode lag", "a"), Outcome("trained", "b"), Outcome("eval-mode lag", "c")]
    assert summary(runs) == "2/3 eval-mode lag (a); 1/3 trained"
    assert summary([Outcome("trained", "b")]) == "trained"


def test_validation_chunks_never_leave_a_single_sample_alone() -> None:
    assert chunks(70, 32) == [slice(0, 32), slice(32, 64), slice(64, 70)]
    assert chunks(65, 32) == [slice(0, 32), slice(32, 65)]
    assert chunks(1, 32) == [slice(0, 1)]


SPEC = normspec.load(
    "normspec: 1\ninput: {shape: [6]}\nlayers:\n"
    "  - dense: {units: 5, norm: batch, activation: relu}\n  - dense: {units: 3, norm: none}\n"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_mode_validation_uses_batch_statistics_and_changes_nothing(backend: str) -> None:
    if not available(backend):
        pytest.skip(f"{backend} is not installed")
    spec = with_dtype(SPEC, "float64")
    assert uses_batch_statistics(spec)
    runner = get_backend(backend)
    model = runner.build(spec)
    weights = parity_weights(spec, seed=5)
    runner.set_weights(model, spec, weights)
    x = reference.init_batch(spec, 10, seed=6)
    out = train_mode_outputs(runner, model, spec, x, batch_size=4)  # batches 0:4, 4:8, 8:10
    for part in chunks(10, 4):
        expected, _ = reference.forward(spec, weights, x[part], train=True)
        assert error(out[part], expected["output"])[1] <= 1e-10
    eval_out, _ = reference.forward(spec, weights, x, train=False)
    assert error(out, eval_out["output"])[1] > 1e-3  # the two modes do differ here
    after = runner.get_weights(model, spec)
    assert all(np.array_equal(after[key], value) for key, value in weights.items())


def test_diagnostic_findings_name_saturation_from_its_step_and_dead_units() -> None:
    from normspec.run.outcomes import diagnostic_findings

    rows = [
        (0, "dense_1_tanh", "saturated_fraction", 0.95),
        (10, "dense_1_tanh", "saturated_fraction", 0.5),
        (20, "dense_1_tanh", "saturated_fraction", 0.97),
        (30, "dense_1_tanh", "saturated_fraction", 0.98),
        (30, "conv_relu", "dead_fraction", 0.6),
        (30, "other_relu", "dead_fraction", 0.1),
        (30, "out_sigmoid", "saturated_fraction", 0.2),
    ]
    assert diagnostic_findings(rows) == [
        "98% of dense_1_tanh saturated from step 20",
        "60% of conv_relu's units dead at step 30",
    ]
    assert diagnostic_findings([]) == []


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_train_names_the_outcome_and_what_the_diagnostics_show(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from conftest import ROOT
    from normspec.cli import main

    args = ["train", str(ROOT / "specs" / "threshold_plain.yaml"), "--data", "threshold",
            "--epochs", "1", "--diagnostics", "epoch", "--out", str(tmp_path / "run")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("outcome: ")]
    assert line.startswith("outcome: stuck (training accuracy 0.")
    assert line.endswith("; 100% of dense_1_tanh saturated from step 0")
