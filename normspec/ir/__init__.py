"""The canonical, framework-free intermediate representation."""

from normspec.ir.graph import CanonicalSpec, WeightSpec, count_params, weight_specs

__all__ = ["CanonicalSpec", "WeightSpec", "count_params", "weight_specs"]
