"""Resolution of activations and normalization settings against the spec's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from normspec.spec.models import ActivationField, ActivationSpec, NormField, NormSpec

NORM_PARAMS: dict[str, dict[str, object]] = {
    "batch": {
        "epsilon": 1e-5, "momentum": 0.1, "center": True, "scale": True, "running_var": "unbiased",
    },
    "layer": {"epsilon": 1e-5, "center": True, "scale": True},
    "group": {"epsilon": 1e-5, "center": True, "scale": True, "groups": 32},
    "instance": {"epsilon": 1e-5, "center": True, "scale": True},
    "rms": {"epsilon": 1e-6, "scale": True},
    "none": {},
}  # fmt: skip
"""normspec's own defaults per norm kind (written out in every canonical spec)."""

ACTIVATION_PARAMS: dict[str, tuple[str, object]] = {
    "elu": ("alpha", 1.0),
    "leaky_relu": ("negative_slope", 0.01),
    "gelu": ("approximate", "none"),
}
"""The one parameter of an activation and normspec's default for it."""

_ALL_ACT_PARAMS = ("alpha", "negative_slope", "approximate")


@dataclass(frozen=True)
class ResolvedNorm:
    kind: str
    position: str
    params: dict[str, object]


def as_norm_spec(value: NormField) -> NormSpec:
    return NormSpec(kind=value) if isinstance(value, str) else value


def resolve_norm(
    layer: NormField | None, default: NormField
) -> tuple[ResolvedNorm, list[tuple[str, str]]]:
    """Merge a layer's norm over the defaults. Returns the result and ``(field, message)``
    problems for parameters that do not apply to the chosen kind."""
    base = as_norm_spec(default)
    spec = as_norm_spec(layer) if layer is not None else base
    inherited = base if base.kind == spec.kind else NormSpec(kind=spec.kind)
    position = spec.position or base.position or "before_activation"
    if spec.kind == "none":
        position = "none"
    problems = []
    params: dict[str, object] = {}
    allowed = NORM_PARAMS[spec.kind]
    for key in ("epsilon", "momentum", "center", "scale", "running_var", "groups"):
        value = getattr(spec, key)
        if value is not None and key not in allowed:
            problems.append((key, f"'{key}' does not apply to {spec.kind} norm"))
        if key in allowed:
            own = value if value is not None else getattr(inherited, key)
            params[key] = own if own is not None else allowed[key]
    return ResolvedNorm(spec.kind, position, params), problems


def resolve_activation(
    value: ActivationField | None, default: ActivationField
) -> tuple[ActivationSpec | None, list[tuple[str, str]]]:
    """Explicit activation (``None`` for linear) and problems with misplaced parameters."""
    chosen = value if value is not None else default
    spec = ActivationSpec(function=chosen) if isinstance(chosen, str) else chosen
    problems = []
    own = ACTIVATION_PARAMS.get(spec.function)
    for key in _ALL_ACT_PARAMS:
        if getattr(spec, key) is not None and (own is None or own[0] != key):
            problems.append((key, f"'{key}' does not apply to {spec.function}"))
    if spec.function == "linear":
        return None, problems
    if own is not None and getattr(spec, own[0]) is None:
        spec = replace_spec(spec, **{own[0]: own[1]})
    return spec, problems


def replace_spec(spec: ActivationSpec, **changes: object) -> ActivationSpec:
    return spec.model_copy(update=changes)


__all__ = ["ResolvedNorm", "resolve_activation", "resolve_norm"]
