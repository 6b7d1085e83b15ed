"""The training progress bar advances per batch and ends at its total."""

from __future__ import annotations

import io

from rich.console import Console

from normspec.run.progress import BatchProgress


def bar(steps: int, epochs: int) -> BatchProgress:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    return BatchProgress("torch", steps, epochs, console=console)


def tasks(progress: BatchProgress) -> list[tuple[float, float | None]]:
    return [(t.completed, t.total) for t in progress._progress.tasks]


def test_bar_counts_every_batch_and_ends_full() -> None:
    with bar(steps=9, epochs=5) as progress:
        seen = []
        for epoch in range(5):
            for step in range(9):
                progress.advance(step)
                seen.append(tasks(progress)[0][0])
            progress.epoch_done(f"epoch {epoch + 1}")
        assert seen == list(range(1, 46))
        assert tasks(progress) == [(45, 45)]


def test_bar_is_full_after_each_epoch_even_when_batches_are_not_reported() -> None:
    with bar(steps=9, epochs=5) as progress:
        progress.epoch_done("epoch 1")
        assert tasks(progress) == [(9, 45)]
        for epoch in range(2, 6):
            progress.epoch_done(f"epoch {epoch}")
        assert tasks(progress) == [(45, 45)]


def test_each_run_gets_its_own_bar_with_its_own_total() -> None:
    with bar(steps=4, epochs=2) as progress:
        progress.start("run a")
        for _ in range(8):
            progress.advance()
        progress.epoch_done("1")
        progress.epoch_done("2")
        progress.start("run b", steps=3, epochs=3)
        progress.advance()
        assert tasks(progress) == [(8, 8), (1, 9)]
        printed = progress._progress.console.file.getvalue()
    assert "run b" in printed
