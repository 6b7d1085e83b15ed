"""Progress display for training: a bar per epoch on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from types import TracebackType

import click


class BatchProgress:
    def __init__(self, label: str, steps_per_epoch: int, epochs: int) -> None:
        self.label, self.steps, self.epochs = label, steps_per_epoch, epochs
        self.interactive = sys.stderr.isatty()
        self._progress = None
        self._task = None
        self.done = 0

    def __enter__(self) -> BatchProgress:
        if self.interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(f"{self.label} epoch 1", total=self.steps)
        return self

    def advance(self, _batch: int = 0) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def epoch_done(self, line: str) -> None:
        if self._progress is not None:
            self._progress.console.print(line)
            self.done += 1
            description = f"{self.label} epoch {min(self.done + 1, self.epochs)}"
            self._progress.reset(self._task, description=description)
        else:
            click.echo(line, err=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, exc, tb)
