"""Where to apply batch normalization on a standard CNN?

The question: "I have Conv1, ReLU1, Pooling1, Conv2, ReLU2, Pooling2, FullyConnect1,
FullyConnect2. Where do I apply batch normalization? And what would be the best function to do
this in TensorFlow?"

That network is :data:`SPEC` below, for scikit-learn's 8x8 digits. normspec's ablation trains it
with batch norm before each ReLU (conv, BN, ReLU, pool), after each ReLU (conv, ReLU, BN, pool)
and without batch norm, over several seeds. A layer's batch norm belongs to its block, so it
comes before the pooling written after the layer; the output layer FC2 gets none unless it says
``norm: batch``; a conv or dense layer directly followed by batch norm drops its bias
(``use_bias: auto``). The script prints the layer order of each variant, op by op, and the
Keras layer that ``normspec build --backend keras`` writes for each op. Then,
per variant, it prints the validation accuracy after the first epoch and at the end as mean,
std and 95 % interval, and Welch's t-test of every pair of variants on both. The conclusion
comes from these numbers. The ablation report and curves go to runs/bn_placement/.

The same ablation from the command line, with the spec written to a file:
``normspec ablate question_cnn.yaml --data digits --vary
norm.position=before_activation,after_activation,none --seeds 10 --epochs 10``.

Run: ``python examples/bn_placement_cnn.py [--backend torch|keras|flax] [--seeds 10]
[--epochs 10]``
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
from pathlib import Path

import normspec
from normspec.ir.graph import CanonicalSpec
from normspec.run.ablate import VariantResult, Variation, ablate, table, variants
from normspec.run.ablate_seeds import seeds_section
from normspec.run.data import load_dataset
from normspec.run.seed_stats import spread, verdict, welch
from normspec.run.train import RunSettings

ROOT = Path(__file__).resolve().parent.parent
SPEC = """\
# The question's CNN: Conv1 ReLU1 Pool1 Conv2 ReLU2 Pool2 FC1 FC2, for 8x8 digits.
normspec: 1
name: question_cnn
input: {shape: [8, 8, 1], normalize: standardize}
defaults:
  activation: relu
  norm: {kind: batch, position: before_activation}
layers:
  - conv2d: {filters: 16, padding: same, name: conv1}
  - max_pool2d: {pool: 2, name: pool1}
  - conv2d: {filters: 32, padding: same, name: conv2}
  - max_pool2d: {pool: 2, name: pool2}
  - flatten
  - dense: {units: 64, name: fc1}
  - dense: {units: 10, activation: softmax, name: fc2}
train: {optimizer: {kind: sgd, learning_rate: 0.05, momentum: 0.9}, batch_size: 32, epochs: 10}
"""
VARY = "norm.position=before_activation,after_activation,none"
KERAS_CALL = re.compile(r"x = (?:layers\.)?(\w+)\((.*?)\)\((?:x|inputs)\)", re.S)


def placements() -> dict[str, CanonicalSpec]:
    """The three variants, labelled by the batch norm's position."""
    made = variants(SPEC, [Variation.parse(VARY)])
    return {label.split("=", 1)[1]: spec for label, spec in made.items()}


def keras_layers(spec: CanonicalSpec) -> dict[str, str]:
    """Op name -> the Keras layer that normspec's Keras module builds for it (its class, the
    class it derives from when it is normspec's own, the activation, a dropped bias)."""
    source = normspec.emit(spec, "keras")
    found = {}
    for cls, args in KERAS_CALL.findall(source):
        name = re.search(r'name="(\w+)"', args)
        if name is None:
            continue
        base = re.search(rf"class {cls}\((?:layers\.)?(\w+)\)", source)
        shown = f"{cls} (a {base.group(1)})" if base else cls
        if cls == "Activation":
            shown = f"Activation({args.split(',', 1)[0].strip()})"
        elif "use_bias=False" in args:
            shown += " without bias"
        found[name.group(1)] = shown
    return found


def layer_orders(specs: dict[str, CanonicalSpec]) -> list[str]:
    """Per variant: its canonical ops in order, and the Keras layer of each."""
    lines = []
    for label, spec in specs.items():
        keras = keras_layers(spec)
        ops = [op.name for op in spec.ops]
        lines.append(f"{label}: " + " -> ".join(ops))
        lines.append("  Keras: " + " -> ".join(keras.get(op, op) for op in ops))
    return lines


def accuracy_after(result: VariantResult, epoch: int | None) -> list[float]:
    """Each seed's validation accuracy after ``epoch`` (counted from 1), or at the end."""
    return [(h.final if epoch is None else h.epochs[epoch - 1])["val_accuracy"]
            for h in result.runs]  # fmt: skip


def findings(results: list[VariantResult]) -> list[str]:
    """Per variant the spread over seeds after epoch 1 and at the end; Welch's test of every
    pair after epoch 1, and at the end as normspec's ablation report gives it."""
    lines = []
    for r in results:
        first, final = spread(accuracy_after(r, 1)), spread(accuracy_after(r, None))
        lines.append(f"{r.label}: validation accuracy after epoch 1 {first.text(3)}; "
                     f"at the end {final.text(3)}")  # fmt: skip
    for a, b in itertools.combinations(results, 2):
        test = welch(accuracy_after(a, 1), accuracy_after(b, 1))
        lines.append(f"after epoch 1: {verdict(a.label, b.label, test)}")
    lines += [f"at the end: {line[2:]}" for line in seeds_section(results) if " vs " in line]
    return lines


def compared(results: list[VariantResult], epoch: int | None) -> str:
    """The variants' mean accuracies, the most accurate first, and which pairs Welch's test
    tells apart at the 5 % level."""
    means = sorted(((statistics.mean(accuracy_after(r, epoch)), r.label) for r in results),
                   reverse=True)  # fmt: skip
    apart, alike = [], []
    for a, b in itertools.combinations(results, 2):
        test = welch(accuracy_after(a, epoch), accuracy_after(b, epoch))
        if test.significant:
            high, low = (a, b) if test.diff > 0 else (b, a)
            apart.append(f"{high.label} > {low.label} (p = {test.p:.2g})")
        else:
            alike.append(f"{a.label} ~ {b.label} (p = {test.p:.2g})")
    return (
        ", ".join(f"{label} {mean:.3f}" for mean, label in means)
        + f"; different: {', '.join(apart) or 'no pair'}; not told apart: "
        + (", ".join(alike) or "no pair")
    )


def conclusion(results: list[VariantResult]) -> list[str]:
    """The answer from the measurements: the mean validation accuracy of each variant after
    epoch 1 and at the end, and the pairs that Welch's test separates at the 5 % level."""
    seeds = min(len(r.runs) for r in results)
    return [
        f"Mean validation accuracy over {seeds} seeds, after epoch 1: {compared(results, 1)}.",
        f"At the end: {compared(results, None)}.",
    ]


def run(backend: str, seeds: int, epochs: int, out: Path) -> tuple[list[VariantResult], list[str]]:
    specs = placements()
    data = load_dataset("digits", seed=0, validation_split=0.2)
    settings = {label: RunSettings.from_spec(spec, epochs=epochs) for label, spec in specs.items()}
    results = ablate(specs, backend, dict.fromkeys(specs, data), settings, seeds, out)
    return results, [*findings(results), *conclusion(results)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="torch", choices=["torch", "keras", "flax"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bn_placement")
    args = parser.parse_args()
    print("\n".join(layer_orders(placements())), flush=True)
    results, lines = run(args.backend, args.seeds, args.epochs, args.out)
    print(table(results), end="")
    print("\n".join(lines))
    print(f"report and curves in {args.out}/")


if __name__ == "__main__":
    main()
