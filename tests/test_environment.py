"""Runs record what they ran on (framework versions, threads, device); ``--threads`` sets the
intra-op thread count; the compare report's drift paragraph says what was measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_robustness import MLP, run, write_npz

import normspec
from normspec.run.drift import OpGap, drift_paragraph, first_step_gaps, loss_gaps
from normspec.run.train import History, RunSettings
from test_backends_shared import available

needs_torch = pytest.mark.skipif(not available("torch"), reason="needs torch")
needs_torch_keras = pytest.mark.skipif(
    not (available("torch") and available("keras")), reason="needs torch and keras"
)


@needs_torch
@pytest.mark.parametrize("threads", [1, 2])
def test_threads_are_set_for_the_run_recorded_and_put_back(tmp_path: Path, threads: int) -> None:
    import torch

    before = torch.get_num_threads()
    out = tmp_path / "run"
    data = write_npz(tmp_path / "d.npz")
    code, text = run("train", MLP, "--data", data, "--epochs", "1", "--threads", str(threads),
                     "--out", out)  # fmt: skip
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    torch_env = metrics["environment"]["backends"]["torch"]
    assert torch_env["threads"] == threads and torch_env["thread_choice"] == f"--threads {threads}"
    assert metrics["settings"]["threads"] == threads
    assert torch.get_num_threads() == before  # the next run in this process is not changed
    assert torch_env["framework"] == f"torch {torch.__version__}"
    assert torch_env["device"] == "cpu"
    environment = metrics["environment"]
    assert environment["python"] and environment["numpy"] and "cores" in environment["machine"]
    report = (out / "report.md").read_text()
    assert f"threads {threads} (--threads {threads})" in report


@needs_torch
def test_auto_trains_a_small_network_on_one_thread(tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    out = tmp_path / "run"
    code, text = run("train", MLP, "--data", write_npz(tmp_path / "d.npz"), "--epochs", "1",
                     "--out", out)  # fmt: skip
    assert code == 0, text
    torch_env = json.loads((out / "metrics.json").read_text())["environment"]["backends"]["torch"]
    assert torch_env["threads"] == 1
    assert (
        torch_env["thread_choice"].startswith("auto: ") and "below 24" in torch_env["thread_choice"]
    )
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value", ["0", "-1", "two", "1025", "1.5"])
def test_threads_must_be_a_count_or_auto(value: str) -> None:
    code, text = run("train", MLP, "--data", "digits", "--threads", value)
    assert code == 2 and "--threads" in text and "auto" in text


def history(losses: list[float]) -> History:
    return History("x", [{"epoch": i + 1.0, "loss": v} for i, v in enumerate(losses)])


def test_drift_paragraph_names_the_first_op_that_differs_and_the_growth() -> None:
    gaps = [OpGap("flatten_1", "flatten", 0.0), OpGap("dense_1", "dense", 3e-8),
            OpGap("dense_1_bn", "batch_norm", 4e-6)]  # fmt: skip
    text = drift_paragraph(gaps, {"a": history([1.0, 0.5, 0.2]), "b": history([1.0, 0.6, 0.3])})
    assert "the first op whose output differs between backends is `dense_1` (dense" in text
    assert "largest difference is at `dense_1_bn` (batch_norm, 4e-06)" in text
    assert "0 after epoch 1 and 0.1 after epoch 3" in text
    assert "convolution" not in text


def test_drift_paragraph_says_when_nothing_differs() -> None:
    text = drift_paragraph([OpGap("dense_1", "dense", 0.0)], {"a": history([1.0])})
    assert "every op's output is bit-identical in all backends" in text


def test_loss_gaps_per_epoch() -> None:
    assert loss_gaps({"a": history([1.0, 2.0]), "b": history([1.5, 1.0])}) == [0.5, 1.0]


@needs_torch_keras
def test_first_step_gaps_measure_every_op_in_order() -> None:
    from normspec.run.data import load_dataset

    spec = normspec.load(MLP)
    data = load_dataset("digits", seed=0, validation_split=0.2)
    settings = RunSettings.from_spec(spec)
    gaps = first_step_gaps(spec, ["torch", "keras"], normspec.init_weights(spec), data, settings)
    assert [g.op for g in gaps] == [op.name for op in spec.ops]
    assert all(0 <= g.gap < 1e-4 for g in gaps)
    same = first_step_gaps(spec, ["torch", "torch"], normspec.init_weights(spec), data, settings)
    assert all(g.gap == 0 for g in same)


@needs_torch
def test_compare_runs_its_parity_check_on_a_given_count_and_puts_it_back(monkeypatch) -> None:
    import torch

    from normspec.parity import compare as parity_compare

    seen: list[int] = []

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return parity_compare(*args, **kwargs)

    monkeypatch.setattr("normspec.parity.compare", spy)
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    code, text = run("compare", MLP, "--backends", "torch", "--threads", str(wanted))
    assert code == 0, text
    assert seen == [wanted] and torch.get_num_threads() == before
    code, text = run("compare", MLP, "--backends", "torch")  # auto: the framework's own
    assert code == 0, text
    assert seen == [wanted, before]


@needs_torch
@pytest.mark.parametrize("threads", ["auto", "2"])
def test_ablate_and_compare_train_reports_say_how_the_count_was_chosen(
    tmp_path: Path, threads: str
) -> None:
    import torch

    before = torch.get_num_threads()
    data = write_npz(tmp_path / "d.npz")
    common = ("--data", data, "--epochs", "1", "--threads", threads)
    code, text = run("ablate", MLP, "--vary", "norm.kind=none,batch", "--seeds", "1", *common,
                     "--out", tmp_path / "ablation")  # fmt: skip
    assert code == 0, text
    code, text = run("compare", MLP, "--train", "--backends", "torch,torch", *common,
                     "--out", tmp_path / "compare")  # fmt: skip
    assert code == 0, text
    why = "auto: 0.6 MFLOPs a batch, below 24" if threads == "auto" else "--threads 2"
    count = 1 if threads == "auto" else 2
    for folder in ("ablation", "compare"):
        report = (tmp_path / folder / "report.md").read_text()
        assert f"- torch: torch {torch.__version__}, threads {count} ({why}), device cpu" in report
    assert torch.get_num_threads() == before


def test_ablation_names_each_variants_threads_only_when_they_differ() -> None:
    from normspec.run.environment import thread_lines

    def ran(threads: int, why: str) -> History:
        return History("torch", environment={"threads": threads, "thread_choice": why})

    small, large = (1, "auto: 23.9 MFLOPs a batch, below 24"), (2, "auto: 24.1 MFLOPs a batch")
    assert thread_lines({"none": [ran(*small)], "batch": [ran(*small), ran(*small)]}) == []
    assert thread_lines({"none": [ran(*small)], "batch": [ran(*large)]}) == [
        "- none: threads 1 (auto: 23.9 MFLOPs a batch, below 24)",
        "- batch: threads 2 (auto: 24.1 MFLOPs a batch)",
    ]
    assert thread_lines({"none": [History("torch")]}) == []
