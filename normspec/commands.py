"""The command group, and the framework-backed commands it loads on demand.

compare, train, ablate and weights live in their own modules, imported only when one of them
runs or the command list is shown, so that the core commands (validate, canonical, show,
schema, build) start without them.
"""

from __future__ import annotations

import importlib

import click

LAZY_COMMANDS = {
    "ablate": "normspec.cli_run",
    "compare": "normspec.cli_compare",
    "train": "normspec.cli_run",
    "weights": "normspec.cli_weights",
}
"""Command name -> module whose ``COMMANDS`` list holds it."""


class CommandGroup(click.Group):
    """A click group that imports the module of a lazy command the first time it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            command = _lazy_command(cmd_name)
            self.add_command(command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and self.get_command(ctx, args[0]) is None:
            for name in LAZY_COMMANDS:  # so that "Did you mean ...?" knows every command
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def _lazy_command(name: str) -> click.Command:
    module = importlib.import_module(LAZY_COMMANDS[name])
    return next(c for c in module.COMMANDS if c.name == name)
