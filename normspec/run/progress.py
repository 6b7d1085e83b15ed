"""Progress display for training: on a terminal one bar per run that counts every batch of
every epoch and ends at its total, with one line printed per epoch; elsewhere the epoch lines
only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import click


class BatchProgress:
    """``advance()`` after each batch, ``epoch_done(line)`` after each epoch of a run,
    ``start(label)`` before each run (a single run may skip it)."""

    def __init__(self, label: str, steps_per_epoch: int, epochs: int, console: Any = None) -> None:
        self.label, self.steps, self.epochs = label, steps_per_epoch, epochs
        self.console = console
        self.interactive = console is not None or sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._used = False
        self.done = 0

    @property
    def total(self) -> int:
        return self.steps * self.epochs

    def __enter__(self) -> BatchProgress:
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console or Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self._description(), total=self.total)
        return self

    def _description(self) -> str:
        return f"{self.label} epoch {min(self.done + 1, self.epochs)}/{self.epochs}"

    def start(self, label: str, steps: int | None = None, epochs: int | None = None) -> None:
        """A new run begins: its label (and its steps per epoch and epochs, if they differ);
        it gets a bar of its own, and epochs are counted from 1 again."""
        self.label, self.done = label, 0
        self.steps = steps if steps is not None else self.steps
        self.epochs = epochs if epochs is not None else self.epochs
        if self._progress is None:
            return
        if self._used:
            self._task = self._progress.add_task(self._description(), total=self.total)
        else:
            self._progress.update(self._task, total=self.total, completed=0,
                                  description=self._description())  # fmt: skip

    @property
    def on_batch_end(self) -> Callable[[int], None] | None:
        """What a trainer calls after each batch: :meth:`advance` when the bar is shown, else
        None (Keras calls a per-batch callback synchronously after every batch)."""
        return self.advance if self.interactive else None

    def advance(self, _batch: int = 0) -> None:
        if self._progress is not None:
            self._used = True
            self._progress.advance(self._task)

    def epoch_done(self, line: str) -> None:
        self.done += 1
        if self._progress is not None:
            self._used = True
            self._progress.console.print(line)
            completed = min(self.done, self.epochs) * self.steps
            self._progress.update(self._task, completed=completed, description=self._description())
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
