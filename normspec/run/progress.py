"""Progress display for training: on a terminal a bar over each epoch's batches (with the run
and epoch it belongs to), otherwise, and in any case once an epoch ends, one line per epoch."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click


class BatchProgress:
    """``advance()`` after each batch, ``epoch_done(line)`` after each epoch of a run,
    ``start(label)`` before each run (a single run may skip it)."""

    def __init__(self, label: str, steps_per_epoch: int, epochs: int) -> None:
        self.label, self.steps, self.epochs = label, steps_per_epoch, epochs
        self.interactive = sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
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
            self._task = self._progress.add_task(self._description(), total=self.steps)
        return self

    def _description(self) -> str:
        return f"{self.label} epoch {min(self.done + 1, self.epochs)}/{self.epochs}"

    def start(self, label: str, steps: int | None = None, epochs: int | None = None) -> None:
        """A new run begins: its label (and its steps per epoch and epochs, if they differ);
        epochs are counted from 1 again."""
        self.label, self.done = label, 0
        self.steps = steps if steps is not None else self.steps
        self.epochs = epochs if epochs is not None else self.epochs
        if self._progress is not None:
            self._progress.reset(self._task, total=self.steps, description=self._description())

    def advance(self, _batch: int = 0) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def epoch_done(self, line: str) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.console.print(line)
            self._progress.reset(self._task, description=self._description())
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
