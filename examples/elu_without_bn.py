"""A CIFAR CNN with ELU stops training when the batch norm of its dense layer is removed: why?

The question: conv-BN-ReLU blocks train; with ELU in place of BN-ReLU everywhere but in the
dense layer before the softmax, they still train. "However, if I remove the batchnorm after the
second to last fully connected layer, the neural network does not train." ELU "is supposed to
reduce bias shifting and thus make batch normalization unnecessary".

The question's network is :data:`SPEC`: two blocks of two 3x3 convolutions with max pooling,
a dense layer ``fc1`` and a softmax, with the Keras defaults the question's notebooks use
(Glorot-uniform kernels, Adam 1e-3), at half their width (16 and 32 filters, 128 units) so that
it trains in seconds on a CPU. As in those notebooks the pixels go in as they are, 0 to 255.
The data is normspec's ``synthetic_cifar`` (32x32x3 images in 10 classes whose class is a faint
stripe pattern under a random colour cast and noise). Four variants, each the question's network
with ``normspec ablate --vary`` overrides, trained over several seeds:

* ``bn_relu``: conv-BN-ReLU everywhere, fc1 BN-ReLU (the question's baseline);
* ``elu_bn_dense``: ELU everywhere, one batch norm, in fc1 (dense, BN, ELU);
* ``elu_no_bn``: ELU everywhere, that batch norm removed (the network that "does not train");
* ``elu_no_bn_scaled``: the same with its inputs scaled to [0, 1] (x / 255).

Each run records normspec's diagnostics at its first and its last step, on a fixed probe batch.
For fc1 the script prints, at both steps: the spread of its outputs; the mean, spread and
negative share of what enters its activation (below zero ELU flattens towards -1 and ReLU
outputs zero); its dead units; the share of probe images on which the softmax is saturated (top
probability above 0.99); and the norm of the loss's gradient for fc1's kernel. Then each
variant's outcomes as normspec names them, how many epochs each run stays at chance, and the
conclusion drawn from these numbers. Report, curves and diagnostics go to runs/elu_without_bn/.
``--data cifar10`` runs it on the real CIFAR-10 from Keras' download cache (README, *Data*).

normspec computes the cross-entropy from the logits entering the softmax, in every framework;
the question's Keras models computed it from the softmax's (clipped) probabilities.

Run: ``python examples/elu_without_bn.py [--backend torch|keras|flax] [--seeds 3]
[--epochs 8] [--data synthetic_cifar|cifar10]`` (a few minutes on one CPU core with the
synthetic data).
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path

from normspec.batching import batch_count
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec
from normspec.run.ablate import VariantResult, Variation, ablate, table, variants
from normspec.run.ablate_seeds import seeds_section
from normspec.run.data import load_dataset
from normspec.run.diagnostics import Row, read_csv
from normspec.run.outcomes import CHANCE_BAND, diagnostic_findings, summary
from normspec.run.train import RunSettings

ROOT = Path(__file__).resolve().parent.parent
SPEC = """\
# The question's CNN with ELU and no batch norm, at half width; pixels 0..255 as they are.
normspec: 1
name: question_elu_cnn
input: {shape: [32, 32, 3]}
defaults: {activation: elu, norm: none}
layers:
  - conv2d: {filters: 16, padding: same}
  - conv2d: {filters: 16, padding: same}
  - max_pool2d: 2
  - conv2d: {filters: 32, padding: same}
  - conv2d: {filters: 32, padding: same}
  - max_pool2d: 2
  - flatten
  - dense: {units: 128, name: fc1}
  - dense: {units: 10, activation: softmax, name: fc2}
train: {optimizer: adam, batch_size: 64, epochs: 8}
"""
VARIANTS = {
    "bn_relu": ["activation=relu", "norm=batch"],
    "elu_bn_dense": ["layers.fc1.dense.norm=batch"],
    "elu_no_bn": [],
    "elu_no_bn_scaled": ["input.normalize={kind: rescale, scale: 0.00392156862745098}"],
}
DENSE = "fc1"
MARGIN = 0.1
"""Below this gain in final accuracy, removing fc1's batch norm counts as changing nothing."""


def specs() -> dict[str, CanonicalSpec]:
    """Each variant: :data:`SPEC` with its ``--vary`` overrides (one value each)."""
    return {
        label: next(iter(variants(SPEC, [Variation.parse(v) for v in overrides]).values()))
        for label, overrides in VARIANTS.items()
    }


@dataclass(frozen=True)
class Dense:
    """What the diagnostics show of the dense layer and the softmax at one step."""

    variant: str
    step: int
    std: float
    """Of the dense layer's outputs (before any batch norm)."""
    largest: float
    """The largest absolute output of the dense layer."""
    activation: str
    """The dense layer's activation function."""
    entering_mean: float
    entering_std: float
    """Of what enters the activation (the batch norm's output, if there is one)."""
    negative: float
    """The share of what enters the activation that is below zero."""
    dead: float
    """The share of the activation's units that are zero on the whole probe batch."""
    saturated: float
    """The share of probe images whose softmax top probability is above 0.99."""
    grad_norm: float
    """Of the loss's gradient for the dense layer's kernel, on the probe batch."""

    def line(self) -> str:
        return (
            f"{self.variant:16} step {self.step:3}: {DENSE} outputs std {self.std:.3g} "
            f"(largest |value| {self.largest:.3g}); into {self.activation}: mean "
            f"{self.entering_mean:+.3g}, std {self.entering_std:.3g}, {self.negative:.0%} "
            f"negative; dead units {self.dead:.0%}; softmax saturated on {self.saturated:.0%} "
            f"of the probe; gradient norm of {DENSE}'s kernel {self.grad_norm:.3g}"
        )


def dense_findings(label: str, spec: CanonicalSpec, rows: list[Row]) -> list[Dense]:
    """The dense layer at the first and the last diagnostic step of one run."""
    value = {(step, op, stat): v for step, op, stat, v in rows}
    ops = spec.ops
    start = next(i for i, op in enumerate(ops) if op.name == DENSE)
    act = next(op for op in ops[start:] if isinstance(op, ir.Activation))
    entering = ops[ops.index(act) - 1].name
    steps = sorted({row[0] for row in rows})
    return [
        Dense(
            variant=label,
            step=step,
            std=value[step, DENSE, "std"],
            largest=max(-value[step, DENSE, "min"], value[step, DENSE, "max"]),
            activation=act.function.upper(),
            entering_mean=value[step, entering, "mean"],
            entering_std=value[step, entering, "std"],
            negative=value[step, entering, "negative_fraction"],
            dead=value[step, act.name, "dead_fraction"],
            saturated=value[step, ops[-1].name, "saturated_fraction"],
            grad_norm=value[step, DENSE, "grad_norm"],
        )
        for step in (steps[0], steps[-1])
    ]


def final_accuracy(result: VariantResult) -> float:
    """The mean over seeds of the final validation accuracy."""
    return statistics.mean(h.final["val_accuracy"] for h in result.runs)


def epochs_at_chance(result: VariantResult) -> list[int]:
    """Per seed, how many epochs the validation accuracy stays within the chance band
    (normspec's outcome rules) before it first rises above it."""
    band = result.chance + CHANCE_BAND
    return [
        next((i for i, row in enumerate(h.epochs) if row["val_accuracy"] > band), len(h.epochs))
        for h in result.runs
    ]


def conclusion(results: dict[str, VariantResult], found: list[Dense]) -> list[str]:
    """The answer from the measurements: the final accuracies, and what fc1 and the softmax
    looked like at the first and the last step with and without the batch norm and the input
    scaling."""
    chance = results["elu_no_bn"].chance
    accuracy = {label: final_accuracy(r) for label, r in results.items()}
    gain = {label: a - accuracy["elu_no_bn"] for label, a in accuracy.items()}
    lines = [
        f"Final validation accuracy (mean over seeds; chance {chance:.3f}): "
        + ", ".join(f"{label} {a:.3f}" for label, a in accuracy.items())
        + "."
    ]
    at_chance = {label: epochs_at_chance(r) for label, r in results.items()}
    lines.append(
        f"Epochs at chance (within {CHANCE_BAND} of it) before validation accuracy rises, per "
        "seed: "
        + "; ".join(f"{label} {', '.join(map(str, n))}" for label, n in at_chance.items())
        + f" (of {min(len(h.epochs) for r in results.values() for h in r.runs)})."
    )
    if gain["elu_bn_dense"] <= MARGIN:
        return [
            *lines,
            f"Here removing {DENSE}'s batch norm does not stop the ELU network: "
            f"{accuracy['elu_no_bn']:.3f} without it, {accuracy['elu_bn_dense']:.3f} with it.",
        ]
    lines.append(
        f"Without {DENSE}'s batch norm the ELU network ends {gain['elu_bn_dense']:.3f} less "
        f"accurate; with its inputs scaled to [0, 1] and no batch norm at all it ends "
        f"{gain['elu_no_bn_scaled']:+.3f} against the network without either."
    )
    first = {d.variant: d for d in found if d.step == 0}
    last = {d.variant: d for d in found if d.step > 0}
    bare, bn, scaled = first["elu_no_bn"], first["elu_bn_dense"], first["elu_no_bn_scaled"]
    lines.append(
        f"At the first step, on pixels 0..255, {DENSE}'s outputs have std {bare.std:.3g}, "
        f"{bare.std / scaled.std:.0f} times their std on scaled inputs ({scaled.std:.3g}). "
        f"Without a batch norm they enter {bare.activation} as they are: the softmax is "
        f"saturated on {bare.saturated:.0%} of the probe and the gradient for {DENSE}'s "
        f"kernel has norm {bare.grad_norm:.3g}. With the batch norm, {bn.activation} gets std "
        f"{bn.entering_std:.3g} ({bn.saturated:.0%} saturated, gradient norm "
        f"{bn.grad_norm:.3g}); with scaled inputs, {scaled.saturated:.0%} saturated, "
        f"gradient norm {scaled.grad_norm:.3g}."
    )
    lines.append(
        f"At the last step, {last['elu_no_bn'].negative:.0%} of what enters {DENSE}'s "
        f"{bare.activation} is negative without batch norm or scaling (mean "
        f"{last['elu_no_bn'].entering_mean:+.3g}), {last['elu_no_bn_scaled'].negative:.0%} "
        f"with scaled inputs (mean {last['elu_no_bn_scaled'].entering_mean:+.3g})."
    )
    return lines


def run(
    backend: str, seeds: int, epochs: int, out: Path, data_name: str = "synthetic_cifar"
) -> tuple[dict[str, VariantResult], list[Dense], list[str]]:
    """Train every variant over ``seeds`` seeds with diagnostics at the first and the last
    step; the variants, the dense layer's findings (first seed) and the lines to print."""
    made = specs()
    data = load_dataset(data_name, seed=0)
    settings = {label: RunSettings.from_spec(spec, epochs=epochs) for label, spec in made.items()}
    last = batch_count(len(data.x_train), settings["elu_no_bn"].batch_size) * epochs
    found = ablate(made, backend, dict.fromkeys(made, data), settings, seeds, out,
                   diagnostics=last)  # fmt: skip
    dense: list[Dense] = []
    lines = []
    for index, r in enumerate(found, start=1):
        seed = settings[r.label].seed
        rows = read_csv(out / "diagnostics" / f"v{index}_seed{seed}" / "diagnostics.csv")
        dense += dense_findings(r.label, r.spec, rows)
        shown = "; ".join(diagnostic_findings(rows))
        lines.append(
            f"{r.label}: {summary(r.outcomes())}" + (f"; seed {seed}: {shown}" if shown else "")
        )
    results = {r.label: r for r in found}
    return results, dense, [*lines, *conclusion(results, dense)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--data", default="synthetic_cifar", help="or cifar10 (Keras' cache)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "elu_without_bn")
    args = parser.parse_args()
    for label, overrides in VARIANTS.items():
        print(f"{label}: the question's network" + "".join(f" --vary {v}" for v in overrides))
    results, dense, lines = run(args.backend, args.seeds, args.epochs, args.out, args.data)
    print(table(list(results.values())), end="")
    print("\n".join(line[2:] for line in seeds_section(list(results.values())) if " vs " in line))
    print("\n".join([*(d.line() for d in dense), *lines]))
    print(f"report, curves and diagnostics in {args.out}/")


if __name__ == "__main__":
    main()
