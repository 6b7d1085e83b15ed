"""Registration of the framework-backed commands (compare, weights, train, ablate).

Their modules import frameworks only inside the command bodies, so ``normspec --help`` and the
core commands stay fast.
"""

from __future__ import annotations

import importlib

import click

_MODULES = ("normspec.cli_compare", "normspec.cli_run", "normspec.cli_weights")


def register(group: click.Group) -> None:
    for name in _MODULES:
        for command in importlib.import_module(name).COMMANDS:
            group.add_command(command)
