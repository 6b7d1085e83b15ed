"""Statistics over seeds: Student's t from the incomplete beta function (checked against
scipy), intervals, Welch's test, the verdict in words, and the ablation report's section."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import normspec
from conftest import ROOT
from normspec.run.ablate import VariantResult, write_report
from normspec.run.ablate_seeds import seeds_section
from normspec.run.data import Dataset
from normspec.run.seed_stats import spread, t_quantile, t_sf_two_sided, verdict, welch
from normspec.run.train import History, RunSettings

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("df", [1, 2, 3.5, 9, 40, 300])
def test_student_t_matches_scipy(df: float) -> None:
    for t in (0.0, 0.1, 1.0, 2.5, 7.0, 30.0):
        assert t_sf_two_sided(t, df) == pytest.approx(2 * stats.t.sf(t, df), abs=1e-12)
    assert t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


def test_spread_is_the_t_interval_of_the_mean() -> None:
    values = [0.99, 0.985, 0.991, 0.993, 0.988]
    s = spread(values)
    interval = stats.t.interval(0.95, len(values) - 1, loc=s.mean, scale=stats.sem(values))
    assert (s.n, s.low, s.high) == (5, pytest.approx(interval[0]), pytest.approx(interval[1]))
    assert s.std == pytest.approx(stats.tstd(values))
    assert spread([0.5, math.nan]).text() == "0.5000 (n = 1, no spread)"


def test_welch_matches_scipy_and_says_so_in_words() -> None:
    a, b = [0.99, 0.985, 0.991, 0.993, 0.988], [0.95, 0.955, 0.948, 0.951, 0.953]
    d = welch(a, b)
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert d.p == pytest.approx(expected.pvalue, rel=1e-9)
    low, high = expected.confidence_interval(0.95)
    assert (d.low, d.high) == (pytest.approx(low), pytest.approx(high))
    assert verdict("bn", "none", d).startswith("bn vs none: +0.0380 (95 % CI +0.0")
    assert verdict("bn", "none", d).endswith(
        "over 5 seeds: bn is higher (Welch's t-test, p = 3.5e-08)"
    )
    same = welch(a, [0.992, 0.99, 0.987, 0.995, 0.989])
    assert "no significant difference (Welch's t-test, p = 0.55)" in verdict("x", "y", same)
    assert (
        verdict("x", "y", welch([0.9], [0.8])) == "x vs y: +0.1000 over 1 seed: one seed, no test"
    )


SPEC = normspec.load(ROOT / "specs" / "mlp.yaml")


def runs(*accuracies: float) -> list[History]:
    return [History("torch", [{"epoch": 1.0, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.3,
                               "val_accuracy": a}]) for a in accuracies]  # fmt: skip


def test_the_report_compares_every_pair_of_variants(tmp_path: Path) -> None:
    results = [
        VariantResult("bn", SPEC, runs(0.99, 0.985, 0.991), 0.1),
        VariantResult("none", SPEC, runs(0.95, 0.955, 0.948), 0.1),
        VariantResult("one_seed", SPEC, runs(0.97), 0.1),
    ]
    section = "\n".join(seeds_section(results))
    assert "- bn: 0.9887 ± 0.0032 (95 % CI 0.9807 … 0.9967, n = 3)" in section
    assert "- one_seed: 0.9700 (n = 1, no spread)" in section
    assert "bn vs none: +0.0377" in section and "bn is higher" in section
    assert "bn vs one_seed: +0.0187 over 3 and 1 seeds: one seed, no test" in section
    x, y = np.zeros((8, *SPEC.input.shape), np.float32), np.zeros(8, np.int64)
    data = Dataset("digits", x, y, x, y)
    settings = RunSettings(epochs=1, batch_size=4, seed=0, optimizer=SPEC.train.optimizer)
    write_report(results, "torch", data, settings, 3, tmp_path)
    assert section in (tmp_path / "report.md").read_text()
    rows = (tmp_path / "over_seeds.csv").read_text().splitlines()
    assert rows[0] == "variant,epoch,metric,n,mean,std,ci_low,ci_high"
    assert "bn,1,val_accuracy,3,0.988667,0.00321455,0.980681,0.996652" in rows
