"""``normspec ablate``: the same spec with one setting varied, over several seeds."""

from __future__ import annotations

import copy
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from normspec.errors import NormspecError, SpecError, format_path
from normspec.ir.graph import CanonicalSpec
from normspec.loader import load_yaml, read_source
from normspec.run import metrics
from normspec.run.data import Dataset
from normspec.run.report import describe, fmt, markdown_table, plot_curves, plural
from normspec.run.train import History, RunSettings, starting_weights, train
from normspec.spec.canonicalize import canonicalize

ALIASES = {"norm": ("defaults", "norm"), "activation": ("defaults", "activation")}


class AblationError(NormspecError):
    """A --vary option that does not fit the spec."""


def _split_values(raw: str) -> list[str]:
    """``a,{kind: batch, position: none},[1, 2]`` -> three values: commas inside brackets
    belong to the value."""
    values, depth, start = [], 0, 0
    for i, char in enumerate(raw):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(raw[start:i])
            start = i + 1
    values.append(raw[start:])
    return [v.strip() for v in values]


def _value(text: str, option: str) -> Any:
    """One value of a --vary option, read as YAML (``none`` stays the string 'none')."""
    if not text:
        raise AblationError(f"--vary {option!r} has an empty value")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise AblationError(f"--vary {option!r}: cannot read {text!r} ({problem})") from None


@dataclass(frozen=True)
class Variation:
    path: tuple[str, ...]
    values: tuple[Any, ...]

    @classmethod
    def parse(cls, text: str) -> Variation:
        """``norm.position=before_activation,after_activation`` -> path and values."""
        key, sep, raw = text.partition("=")
        if not sep or not key or not raw:
            raise AblationError(f"--vary takes KEY=V1,V2,...; got {text!r}")
        parts = tuple(key.strip().split("."))
        path = ALIASES.get(parts[0], (parts[0],)) + parts[1:]
        values = tuple(_value(v, text) for v in _split_values(raw))
        if len(set(map(repr, values))) != len(values):
            raise AblationError(f"--vary {text!r} repeats a value")
        return cls(path, values)

    @property
    def key(self) -> str:
        return ".".join(self.path[1:] if self.path[0] == "defaults" else self.path)


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if isinstance(child, str) and path[:2] == ("defaults", "norm"):
            child = {"kind": child}  # `norm: batch` -> `norm: {kind: batch}`
        if isinstance(child, str) and path[:2] == ("input", "normalize"):
            child = {"kind": child}
        if child is None:
            child = {}
        if not isinstance(child, dict):
            raise AblationError(
                f"cannot set {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a mapping"
            )
        node[part] = child
        node = child
    node[path[-1]] = value


def variants(source: str | Path, variations: Sequence[Variation]) -> dict[str, CanonicalSpec]:
    """Every combination of the variations, as canonical specs keyed by a readable label."""
    text, name = read_source(source)
    base = load_yaml(text, name).data
    out = {}
    for combo in itertools.product(*(v.values for v in variations)):
        data = copy.deepcopy(base)
        for variation, value in zip(variations, combo, strict=True):
            _set(data, variation.path, value)
        label = ", ".join(f"{v.key}={c}" for v, c in zip(variations, combo, strict=True))
        try:
            out[label] = canonicalize(load_yaml(yaml.safe_dump(data, sort_keys=False), name))
        except SpecError as exc:  # its lines and columns are those of the rewritten spec
            found = "; ".join(f"{format_path(p.path)}: {p.message}" for p in exc.problems)
            raise AblationError(f"{name}: the variant --vary {label} is invalid: {found}") from None
    return out


@dataclass
class VariantResult:
    label: str
    spec: CanonicalSpec
    runs: list[History]
    chance: float
    settings: RunSettings | None = None
    """The variant's own settings, where they may differ from the others'."""

    def failures(self) -> list[str]:
        """Per run: '' if it trained, else why not (diverged, stuck at chance)."""
        out = []
        for h in self.runs:
            acc = h.final.get("val_accuracy", float("nan"))
            if h.diverged():
                out.append("diverged (NaN loss)")
            elif math.isfinite(acc) and acc <= self.chance + 0.02:
                out.append("stuck at chance")
            else:
                out.append("")
        return out

    def summary(self, key: str) -> str:
        values = [h.final.get(key, float("nan")) for h in self.runs]
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return "nan"
        spread = statistics.stdev(finite) if len(finite) > 1 else 0.0
        return f"{fmt(statistics.mean(finite))} ± {fmt(spread)}"


def ablate(
    specs: dict[str, CanonicalSpec],
    backend: str,
    data: Mapping[str, Dataset],
    settings: Mapping[str, RunSettings],
    seeds: int,
    out: Path,
    *,
    progress: Callable[[str, int, int, dict[str, float]], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_batch_end: Callable[[int], None] | None = None,
) -> list[VariantResult]:
    """Train every variant ``seeds`` times (seeds ``settings[label].seed + k``), each with its
    own ``settings`` and ``data`` (a variant may vary ``train.*``), and write the report."""
    results = []
    for label, spec in specs.items():
        runs, base, split = [], settings[label], data[label]
        for k in range(seeds):
            if on_start:
                on_start(label, k)
            seeded = replace(base, seed=base.seed + k)
            weights = starting_weights(spec, split, seeded.seed)

            def on_epoch(row: dict[str, float], label: str = label, k: int = k) -> None:
                if progress:
                    progress(label, k, int(row["epoch"]), row)

            history, _ = train(spec, backend, split, weights, seeded,
                               on_batch_end=on_batch_end, on_epoch=on_epoch)  # fmt: skip
            runs.append(history)
        chance = metrics.chance_accuracy(spec, split.y_val)
        results.append(VariantResult(label, spec, runs, chance, base))
    first = next(iter(specs))
    write_report(results, backend, data[first], settings[first], seeds, out)
    return results


def table(results: Sequence[VariantResult]) -> str:
    rows = []
    for r in results:
        failed = [f for f in r.failures() if f]
        status = "trained" if not failed else f"{len(failed)}/{len(r.runs)} failed: {failed[0]}"
        rows.append([r.label, r.summary("loss"), r.summary("val_loss"),
                     r.summary("val_accuracy"), status])  # fmt: skip
    header = ["variant", "train loss", "val loss", "val accuracy", "status"]
    return markdown_table(header, rows)


def write_report(
    results: Sequence[VariantResult],
    backend: str,
    data: Dataset,
    settings: RunSettings,
    seeds: int,
    out: Path,
    *,
    title: str | None = None,
) -> None:
    """report.md and curves.png in ``out``; ``title`` defaults to the first spec's name."""
    out.mkdir(parents=True, exist_ok=True)
    name = title or (results[0].spec.name if results else "spec")
    png = plot_curves({r.label: r.runs for r in results}, out / "curves.png", f"{name}: ablation")
    chance = results[0].chance if results else float("nan")
    own = {r.label: r.settings for r in results if r.settings is not None}
    shared = len({describe(s) for s in own.values()}) <= 1
    how = describe(settings) if shared else "settings per variant (below)"
    lines = [
        f"# Ablation of {name} ({backend}, data `{data.name}`)\n",
        f"{plural(seeds, 'seed')} per variant; {how}; mean ± std of the final epoch. Chance "
        f"accuracy (majority class): {fmt(chance, 3)}. A run counts as failed when its loss is "
        "NaN or its final validation accuracy is within 0.02 of chance.\n",
        table(results),
        *([] if shared else ["", *(f"- {label}: {describe(s)}" for label, s in own.items())]),
        f"\n![curves]({png.name})\n",
    ]
    (out / "report.md").write_text("\n".join(lines))
