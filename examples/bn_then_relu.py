"""The question: "batch norm squashes values into [0, 1], so a ReLU after it does nothing?"

Measured instead of argued: ``specs/digits_cnn.yaml`` (conv/dense, batch norm, ReLU) is trained
on scikit-learn's digits with diagnostics after every epoch, on a fixed probe batch. For every
batch norm followed by a ReLU it prints the range of the batch norm's output, the fraction of
it that is negative, and the fraction of the ReLU's outputs that are zero (and of its units
that are zero for the whole batch: dead), at the start and at the end of training; then the
conclusion drawn from those numbers. Writes diagnostics.csv, the heatmaps and histograms and a
report to runs/bn_then_relu/.

Run: ``python examples/bn_then_relu.py [--backend torch|keras|flax] [--epochs 3]``
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import normspec
from normspec.files import write_text
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.run.data import load_dataset
from normspec.run.diagnostic_plots import save_diagnostics
from normspec.run.diagnostics import Diagnostics, for_run
from normspec.run.train import RunSettings, starting_weights, train

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "digits_cnn.yaml"


@dataclass(frozen=True)
class Finding:
    """One batch norm and the ReLU after it, at one diagnostic step."""

    norm: str
    relu: str
    step: int
    low: float
    high: float
    negative: float
    zeroed: float
    dead: float

    def line(self) -> str:
        return (
            f"step {self.step:4}: {self.norm} output in [{self.low:+.2f}, {self.high:+.2f}], "
            f"{self.negative:.0%} negative; {self.relu} zeroes {self.zeroed:.0%} "
            f"({self.dead:.0%} of its units dead)"
        )


def norm_relu_pairs(spec: CanonicalSpec) -> list[tuple[str, str]]:
    """Every top-level batch norm directly followed by a ReLU."""
    return [
        (a.name, b.name)
        for a, b in itertools.pairwise(spec.ops)
        if isinstance(a, ir.BatchNorm) and isinstance(b, ir.Activation) and b.function == "relu"
    ]


def findings(spec: CanonicalSpec, diagnostics: Diagnostics) -> list[Finding]:
    value = {(step, op, stat): v for step, op, stat, v in diagnostics.rows}
    out = []
    for norm, relu in norm_relu_pairs(spec):
        for step in (diagnostics.steps[0], diagnostics.steps[-1]):
            out.append(Finding(
                norm, relu, step, value[step, norm, "min"], value[step, norm, "max"],
                value[step, norm, "negative_fraction"], value[step, relu, "zero_fraction"],
                value[step, relu, "dead_fraction"],
            ))  # fmt: skip
    return out


def conclusion(found: list[Finding]) -> str:
    """The answer, from the measurements."""
    negative = min(f.negative for f in found)
    zeroed = min(f.zeroed for f in found)
    beyond = sum(f.high > 1 for f in found)
    if negative > 0.05 and zeroed > 0.05:
        return (
            f"ReLU after batch norm is not idle: batch norm's output is centred, not squashed "
            f"into [0, 1] (at least {negative:.0%} of it negative, above 1 in {beyond} of "
            f"{len(found)} measurements), and the ReLU sets at least {zeroed:.0%} of its "
            "inputs to zero, at the start and at the end of training."
        )
    return (
        f"Here the ReLU zeroes at most {zeroed:.0%} of batch norm's output: the learned shift "
        "moved it mostly above zero."
    )


def run(backend: str, epochs: int, out: Path) -> tuple[list[Finding], str]:
    spec = normspec.load(SPEC)
    data = load_dataset("digits", seed=0, validation_split=0.2)
    settings = RunSettings.from_spec(spec, epochs=epochs)
    diagnostics = for_run(spec, data.x_train, settings.batch_size, "epoch", data.y_train)
    assert diagnostics is not None
    weights = starting_weights(spec, data, settings.seed)
    history, _ = train(spec, backend, data, weights, settings, diagnostics=diagnostics)
    found = findings(spec, diagnostics)
    answer = conclusion(found)
    out.mkdir(parents=True, exist_ok=True)
    plots = save_diagnostics(out, diagnostics, f"{spec.name} ({backend})")
    accuracy = history.final.get("val_accuracy", float("nan"))
    write_text(out / "report.md", "\n".join([
        f"# Batch norm, then ReLU ({spec.name}, {backend}, {epochs} epochs)\n",
        f"Validation accuracy at the end: {accuracy:.4f}. Probe: the first "
        f"{len(diagnostics.probe)} training images, in train mode (batch statistics).\n",
        *(f"- {f.line()}" for f in found), "", answer, "",
        *(f"![{p.stem}]({p.name})" for p in plots), "",
    ]))  # fmt: skip
    return found, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bn_then_relu")
    args = parser.parse_args()
    found, answer = run(args.backend, args.epochs, args.out)
    for finding in found:
        print(finding.line())
    print(answer)
    print(f"diagnostics, plots and report in {args.out}/")


if __name__ == "__main__":
    main()
