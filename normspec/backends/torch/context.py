"""State shared by the PyTorch op emitters while one ``nn.Module`` class is written."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from normspec.backends.codegen import INDENT, LINE_LENGTH, Call, Raw, call
from normspec.backends.printing import BaseSite
from normspec.backends.torch.codegen import statement
from normspec.ir.graph import CanonicalSpec

DTYPE = Raw("dtype")
"""Layers with parameters or state get ``dtype=dtype``, the model constructor's argument."""


@dataclass
class Builder:
    """The bodies of ``__init__``, ``reset_parameters`` and ``forward`` being written, and the
    helpers and imports the module must provide."""

    spec: CanonicalSpec
    init_lines: list[str] = field(default_factory=list)
    reset_lines: list[str] = field(default_factory=list)
    forward_lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)

    def helper(self, name: str) -> str:
        """Use a module of :mod:`normspec.backends.torch.helpers`; returns its name."""
        self.helpers.add(name)
        return name

    def comment(self, init: str, forward: str) -> None:
        """A comment in ``__init__`` and one in ``forward``, wrapped to the line length."""
        pad = INDENT * 2 + "# "
        for lines, text in ((self.init_lines, init), (self.forward_lines, forward)):
            lines += textwrap.wrap(text, LINE_LENGTH, initial_indent=pad, subsequent_indent=pad)

    def initialize(self, func: str, tensor: str, **kwargs: Any) -> None:
        """``nn.init.<func>(<tensor>, ...)`` in ``reset_parameters``."""
        self.reset_lines += statement("", call(f"nn.init.{func}", Raw(tensor), **kwargs))


@dataclass
class Site(BaseSite):
    """Where one op is emitted (see :class:`~normspec.backends.printing.BaseSite`): its module
    goes in ``__init__``, its call in ``forward``."""

    builder: Builder

    def helper(self, name: str) -> str:
        return self.builder.helper(name)

    def add(self, name: str, module: Call) -> None:
        """``self.<name> = <module>`` in ``__init__``; ``dst = self.<name>(src)`` in forward."""
        self.builder.init_lines += statement(f"self.{name} = ", module)
        self.assign(call(f"self.{name}", Raw(self.src)))

    def assign(self, value: Any) -> None:
        """``dst = <value>`` in forward; what follows reads ``dst``."""
        self.builder.forward_lines += statement(f"{self.dst} = ", value)
        self.src = self.dst
