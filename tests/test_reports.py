"""The reports of train, compare --train and ablate, without a framework: a row per epoch with
the metrics that were measured, per variant the mean ± std over seeds, the diagnostics'
findings and tables, and the HTML page with its images embedded."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import numpy as np

import normspec
from normspec import reference
from normspec.run.ablate import VariantResult, write_report
from normspec.run.data import Dataset
from normspec.run.diagnostics import Diagnostics, Row
from normspec.run.diagnostics_report import VariantDiagnostics, findings, first_last_table
from normspec.run.epoch_tables import epoch_table, measured, spread_table
from normspec.run.report_html import to_html
from normspec.run.train import History, RunSettings
from normspec.run.train_report import write_train_report

BN_SPEC = """\
normspec: 1
name: report_mlp
input: {shape: [4]}
defaults: {activation: tanh, norm: {kind: batch, position: before_activation}}
layers:
  - dense: 6
  - dense: {units: 3, activation: softmax, norm: none}
train: {optimizer: sgd, batch_size: 8, epochs: 3}
"""
PLAIN_SPEC = BN_SPEC.replace("norm: {kind: batch, position: before_activation}", "norm: none")
MSE_SPEC = PLAIN_SPEC.replace("activation: softmax", "activation: linear").replace(
    "train: {", "train: {loss: mean_squared_error, "
)
KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_train_mode_loss",
        "val_train_mode_accuracy")  # fmt: skip


def history(epochs: int, shift: float = 0.0, backend: str = "torch") -> History:
    rows = [
        {"epoch": float(e), **{k: 0.5 / e + shift + 0.01 * i for i, k in enumerate(KEYS)}}
        for e in range(1, epochs + 1)
    ]
    return History(backend, rows)


def table_after(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading`` (header row first)."""
    lines = markdown[markdown.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return [rows[0], *rows[2:]]


def epochs_after(markdown: str, heading: str) -> list[int]:
    """The epoch column of the first table after ``heading``."""
    header, *rows = table_after(markdown, heading)
    assert header[0] == "epoch", header
    return [int(row[0]) for row in rows]


def data(validation: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, size=40)
    cut = 32 if validation else 40
    return Dataset("tiny", x[:cut], y[:cut], x[cut:], y[cut:])


def diagnostics(spec_text: str = BN_SPEC, steps: tuple[int, ...] = (0, 5, 10)) -> Diagnostics:
    """Diagnostics of ``spec_text`` on the numpy reference, its weights moved between steps."""
    spec = normspec.load(spec_text)
    x = reference.init_batch(spec, 16, seed=1)
    diag = Diagnostics(spec, x, every=5)
    for k, step in enumerate(steps):
        weights = normspec.init_weights(spec, seed=k)
        outputs, _ = reference.forward(spec, weights, x, train=True)
        diag.record(step, outputs, weights)
    return diag


# --- per-epoch tables --------------------------------------------------------------------------


def test_the_measured_columns_follow_the_spec_and_the_data() -> None:
    bn, plain, mse = (normspec.load(s) for s in (BN_SPEC, PLAIN_SPEC, MSE_SPEC))
    assert measured(bn, True) == list(KEYS)
    assert measured(bn, False) == ["loss", "accuracy"]
    assert measured(plain, True) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert measured(mse, True) == ["loss", "val_loss"]


def test_an_epoch_table_has_one_row_per_epoch_rounded_to_4_decimals() -> None:
    text = epoch_table(history(12), ["loss", "val_accuracy"])
    assert epochs_after(text, "|") == list(range(1, 13))
    header, first, *_ = table_after(text, "|")
    assert header == ["epoch", "train loss", "val accuracy"]
    assert first == ["1", "0.5000", "0.5300"]


def test_a_spread_table_gives_mean_and_std_per_epoch_and_counts_missing_runs() -> None:
    a, b = history(3), history(3, shift=0.1)
    b.epochs[2]["loss"] = math.nan  # a diverged seed: not averaged in, counted out
    text = spread_table([a, b], ["loss"])
    assert epochs_after(text, "|") == [1, 2, 3]
    rows = table_after(text, "|")
    assert rows[1] == ["1", "0.5500 ± 0.0707"]
    assert rows[3] == ["3", "0.1667 (n = 1)"]


# --- diagnostics -------------------------------------------------------------------------------


def test_findings_name_saturated_and_dead_ops_or_say_there_are_none() -> None:
    rows: list[Row] = [(s, "t", "saturated_fraction", v) for s, v in ((0, 0.5), (5, 0.95),
                                                                     (10, 1.0))]  # fmt: skip
    rows += [(s, "r", "dead_fraction", v) for s, v in ((0, 0.0), (5, 0.0), (10, 0.0))]
    assert findings(rows) == (
        "Findings: 100% of t saturated from step 5; no op with 50% or more of its units dead "
        "at step 10."
    )
    quiet = [row for row in rows if row[2] == "dead_fraction"]
    assert findings(quiet) == "Findings: no op with 50% or more of its units dead at step 10."


def test_the_first_last_table_has_every_op_and_marks_what_was_not_measured() -> None:
    diag = diagnostics()
    header, *rows = table_after(first_last_table(diag.rows), "|")
    assert header[:4] == ["op", "std", "dead fraction", "saturated fraction"]
    ops = [row[0] for row in rows]
    assert ops == [op.name for op in diag.spec.ops]
    dense = rows[ops.index("dense_1")]
    assert dense[header.index("update ratio")].startswith("– → ")  # none at the first step
    assert re.fullmatch(r"[\d.e+-]+ → [\d.e+-]+", dense[header.index("std")])


# --- the HTML page -----------------------------------------------------------------------------


def test_the_html_page_embeds_images_and_escapes_text(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (tmp_path / "curves.png").write_bytes(png)
    markdown = "\n".join([
        "# a <b> & c\n", "Text with `code <x>` and a [link](runs/a.csv) and *emphasis*.\n",
        "| epoch | loss |", "|---|---|", "| 1 | 0.5 |", "| 2 | 0.25 |", "",
        "- one [bad](javascript:alert(1))", "- two", "", "![curves](curves.png)",
        "![gone](missing.png)", "![outside](../x.png)",
    ])  # fmt: skip
    page = to_html(markdown, tmp_path, "t")
    assert "<h1>a &lt;b&gt; &amp; c</h1>" in page
    assert "<code>code &lt;x&gt;</code>" in page and '<a href="runs/a.csv">link</a>' in page
    assert "<em>emphasis</em>" in page and 'href="#">bad</a>' in page
    assert "<tr><td>1</td><td>0.5</td></tr>" in page and "<tr><td>2</td><td>0.25</td></tr>" in page
    assert "<li>two</li>" in page
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(e) for e in embedded] == [png]
    assert 'src="missing.png"' in page and 'src="../x.png"' in page


# --- whole reports -----------------------------------------------------------------------------


def settings(spec_text: str) -> RunSettings:
    return RunSettings.from_spec(normspec.load(spec_text))


def test_the_train_report_shows_every_epoch_and_the_diagnostics(tmp_path: Path) -> None:
    diag = diagnostics()
    write_train_report(tmp_path, diag.spec, history(3), data(), settings(BN_SPEC), diag)
    report = (tmp_path / "report.md").read_text()
    assert epochs_after(report, "## Every epoch") == [1, 2, 3]
    assert table_after(report, "## Every epoch")[0][-1] == "val accuracy, batch statistics"
    section = report[report.index("## Diagnostics") :]
    assert "Diagnostics at steps 0 to 10, every 5, on 16 probe samples" in section
    assert "Findings: " in section and "| dense_1_bn |" in section
    page = (tmp_path / "report.html").read_text()
    assert page.count("<tr><td>") >= 3 + len(diag.spec.ops)
    assert page.count('src="data:image/png;base64,') == 1  # the curves


def test_the_train_report_says_only_what_was_measured(tmp_path: Path) -> None:
    write_train_report(tmp_path, normspec.load(PLAIN_SPEC), history(2), data(validation=False),
                       settings(PLAIN_SPEC))  # fmt: skip
    report = (tmp_path / "report.md").read_text()
    assert table_after(report, "## Every epoch")[0] == ["epoch", "train loss", "train accuracy"]
    assert "No validation split" in report and "## Diagnostics" not in report


def test_the_ablation_report_shows_every_epoch_per_variant_and_its_diagnostics(
    tmp_path: Path,
) -> None:
    bn, plain = normspec.load(BN_SPEC), normspec.load(PLAIN_SPEC)
    results = [
        VariantResult("with bn", bn, [history(3), history(3, 0.1)], 1 / 3),
        VariantResult("without", plain, [history(3), history(3, 0.2)], 1 / 3),
    ]
    seen = VariantDiagnostics("with bn")
    for seed in (0, 1):
        seen.add(seed, diagnostics(), Path(f"diagnostics/v1_seed{seed}"), [])
    write_report(results, "torch", data(), settings(BN_SPEC), 2, tmp_path,
                 diagnostics=["## Diagnostics\n", *seen.lines()])  # fmt: skip
    report = (tmp_path / "report.md").read_text()
    for label, columns in (("### with bn", 7), ("### without", 5)):
        assert epochs_after(report, label) == [1, 2, 3]
        header, first, *_ = table_after(report, label)
        assert len(header) == columns and " ± " in first[1]
    assert "| without |" in report and "| no batch norm |" in report
    section = report[report.index("## Diagnostics") :]
    assert "mean ± std over 2 seeds" in section and "#### seed 1" in section
    assert "[diagnostics.csv](diagnostics/v1_seed1/diagnostics.csv)" in section
    assert "<h3>with bn</h3>" in (tmp_path / "report.html").read_text()
