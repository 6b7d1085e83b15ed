"""``--vary``: the variations of an ablation, and the variant specs they make."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from normspec.errors import NormspecError, SpecError, format_path
from normspec.ir.graph import CanonicalSpec
from normspec.loader import load_yaml, read_source
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
    if path[0] == "layers" and len(path) > 1:
        options, rest = _layer_options(data, path)
        _set_in(options, rest, value, path)
    else:
        _set_in(data, path, value, path)


def _set_in(node: dict[str, Any], path: tuple[str, ...], value: Any, full: tuple[str, ...]) -> None:
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if isinstance(child, str) and part in ("norm", "normalize"):
            child = {"kind": child}  # `norm: batch` -> `norm: {kind: batch}`
        if child is None:
            child = {}
        if not isinstance(child, dict):
            done = full[: len(full) - len(path) + i + 1]
            raise AblationError(f"cannot set {'.'.join(full)}: {'.'.join(done)} is not a mapping")
        node[part] = child
        node = child
    node[path[-1]] = value


def _layer_index(layers: list[Any], selector: str) -> int:
    """``3`` (counted from 0; negative counts from the end) or a layer's ``name``."""
    try:
        index = int(selector)
    except ValueError:
        for i, item in enumerate(layers):
            body = next(iter(item.values()), None) if isinstance(item, dict) else None
            if isinstance(body, dict) and body.get("name") == selector:
                return i
        names = [str(b["name"]) for b in _bodies(layers) if "name" in b]
        known = f" (named layers: {', '.join(names)})" if names else " (no layer has a name)"
        message = f"--vary layers.{selector}: no layer is named {selector!r}{known}"
        raise AblationError(message) from None
    if not -len(layers) <= index < len(layers):
        raise AblationError(
            f"--vary layers.{selector}: the spec has {len(layers)} layers (0 to {len(layers) - 1})"
        )
    return index % len(layers)


def _bodies(layers: list[Any]) -> list[dict[str, Any]]:
    return [b for item in layers if isinstance(item, dict) for b in item.values()
            if isinstance(b, dict)]  # fmt: skip


def _layer_options(
    data: dict[str, Any], path: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The options mapping of the layer ``path[1]`` selects (shorthands written out) and the
    rest of the path; ``layers.3.dense.dropout`` and ``layers.3.dropout`` are the same."""
    from normspec.spec.models import LAYER_KINDS

    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise AblationError(f"cannot set {'.'.join(path)}: the spec has no list of layers")
    index = _layer_index(layers, path[1])
    item = layers[index]
    kind, body = (item, None) if isinstance(item, str) else next(iter(item.items()))
    rest = path[2:]
    if rest and rest[0] == kind:
        rest = rest[1:]
    elif rest and rest[0] in LAYER_KINDS:
        raise AblationError(f"--vary {'.'.join(path)}: layer {index} is a {kind}, not {rest[0]}")
    if not rest:
        raise AblationError(f"--vary {'.'.join(path)}: name an option of layer {index} ({kind})")
    if body is None:
        body = {}
    elif not isinstance(body, dict):
        field = LAYER_KINDS[kind][1] if kind in LAYER_KINDS else None
        if field is None:
            raise AblationError(f"--vary {'.'.join(path)}: layer {index} ({kind}) is not a mapping")
        body = {field: body}
    layers[index] = {kind: body}
    return body, rest


def distinct(specs: Mapping[str, CanonicalSpec]) -> dict[str, str]:
    """Variant label -> the label of the first variant with the same canonical spec (the
    same model and training), for every variant that repeats an earlier one."""
    first: dict[str, str] = {}
    same = {}
    for label, spec in specs.items():
        if spec.hash in first:
            same[label] = first[spec.hash]
        else:
            first[spec.hash] = label
    return same


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
            found = "; ".join(f"{format_path(p.path)}: {p.text}" for p in exc.problems)
            raise AblationError(f"{name}: the variant --vary {label} is invalid: {found}") from None
    return out
