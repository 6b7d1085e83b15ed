"""The classic question: one unscaled input x in [0, 25000), y = 1 where x >= 12500.

Four variants, as in the question: no normalization, batch norm only, input normalization only,
both. Each run records diagnostics after every epoch, and the script prints why each variant
ends where it does from them: the fraction of the tanh layer's outputs that are saturated
(|y| > 0.99, where its gradient is below 0.02) at the first and the last step, and the norm of
the loss's gradient that reaches each kernel at the first step. Writes curves,
diagnostics and a report to runs/threshold/.

Run: ``python examples/threshold_normalization.py [--backend torch] [--epochs 3]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import normspec
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.run.ablate import VariantResult, table, write_report
from normspec.run.data import load_dataset
from normspec.run.diagnostic_plots import save_diagnostics
from normspec.run.diagnostics import Diagnostics, for_run
from normspec.run.metrics import chance_accuracy
from normspec.run.outcomes import outcome
from normspec.run.train import RunSettings, starting_weights, train

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ["plain", "batch_norm", "input_norm", "both"]


def saturation(spec: CanonicalSpec, diagnostics: Diagnostics) -> dict[str, tuple[float, float]]:
    """Each tanh op's saturated fraction at the first and the last diagnostic step."""
    value = {(step, op, stat): v for step, op, stat, v in diagnostics.rows}
    first, last = diagnostics.steps[0], diagnostics.steps[-1]
    return {
        op.name: (
            value[first, op.name, "saturated_fraction"],
            value[last, op.name, "saturated_fraction"],
        )
        for op in spec.ops
        if isinstance(op, ir.Activation) and op.function == "tanh"
    }


def first_gradient_norms(diagnostics: Diagnostics) -> dict[str, float]:
    """Each kernel's gradient norm on the probe batch at the first diagnostic step."""
    first = diagnostics.steps[0]
    return {op: v for step, op, stat, v in diagnostics.rows
            if step == first and stat == "grad_norm"}  # fmt: skip


def why(
    result: VariantResult,
    saturated: dict[str, tuple[float, float]],
    gradients: dict[str, float],
) -> str:
    """One line per variant: its outcome, the tanh saturation and the gradient that reaches
    each kernel at the start, measured."""
    found = outcome(result.runs[0], result.chance)
    parts = [f"{name} {a:.0%} saturated at the first step, {b:.0%} at the last"
             for name, (a, b) in saturated.items()]  # fmt: skip
    parts += [f"gradient norm of {name}'s kernel {g:.2g}" for name, g in gradients.items()]
    return f"{result.label}: {found.label} ({found.detail}); " + "; ".join(parts)


def run(backend: str, epochs: int, out: Path) -> tuple[list[VariantResult], list[str]]:
    data = load_dataset("threshold", seed=0, validation_split=0.2)
    results, lines = [], []
    for variant in VARIANTS:
        spec = normspec.load(ROOT / "specs" / f"threshold_{variant}.yaml")
        settings = RunSettings.from_spec(spec, epochs=epochs)
        weights = starting_weights(spec, data, settings.seed)
        diagnostics = for_run(spec, data.x_train, settings.batch_size, "epoch", data.y_train)
        assert diagnostics is not None
        history, _ = train(
            spec, backend, data, weights, settings, diagnostics=diagnostics,
            on_epoch=lambda row, v=variant: print(
                f"{v:11} epoch {int(row['epoch'])}: loss {row['loss']:.4f} "
                f"val_acc {row['val_accuracy']:.4f}", flush=True),
        )  # fmt: skip
        result = VariantResult(variant, spec, [history], chance_accuracy(spec, data.y_val))
        results.append(result)
        lines.append(why(result, saturation(spec, diagnostics), first_gradient_norms(diagnostics)))
        folder = out / "diagnostics" / variant
        folder.mkdir(parents=True, exist_ok=True)
        save_diagnostics(folder, diagnostics, f"{variant} ({backend})")
    why_section = ["## Why\n", *(f"- {line}" for line in lines), ""]
    write_report(results, backend, data, settings, 1, out, title="threshold (x >= 12500)",
                 diagnostics=why_section)  # fmt: skip
    return results, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "threshold")
    args = parser.parse_args()
    results, lines = run(args.backend, args.epochs, args.out)
    print(table(results), end="")
    print("\n".join(lines))
    print(f"curves and report in {args.out}/")


if __name__ == "__main__":
    main()
