"""The roles a weight tensor plays in an op: one vocabulary for the IR, the weight files and
every backend's weight adapter.

A canonical weight key is ``<op name>.<role>``. Each role fixes its canonical layout
(channels-last, whatever the framework stores) and whether training updates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from normspec.ir.registry import Registry


@dataclass(frozen=True)
class Role:
    name: str
    trainable: bool
    """Whether the optimizer updates it (running statistics and fixed or fitted input
    statistics are state, not parameters)."""
    layout: str
    """The canonical layout, in words."""


ROLES: Registry[str, Role] = Registry("weight role")
"""Role name -> role, in the order weights of one op are listed."""


def _role(name: str, trainable: bool, layout: str) -> Role:
    return ROLES.add(name, Role(name, trainable, layout))


KERNEL = _role("kernel", True, "dense (in, out); convolution (*kernel, in / groups, out)")
BIAS = _role("bias", True, "(out,)")
SCALE = _role("scale", True, "(C,): the normalization's multiplier (gamma)")
SHIFT = _role("shift", True, "(C,): the normalization's offset (beta)")
MEAN = _role("mean", False, "(C,): batch norm's running mean, or the input's mean")
VAR = _role("var", False, "(C,): batch norm's running variance")
STD = _role("std", False, "(C,): the input's standard deviation")
