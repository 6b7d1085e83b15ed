"""A table filled once by registration, in which a second entry for the same key raises.

Used for the ops of the canonical IR (:mod:`normspec.ir.ops`) and for each backend's printers, so
that "one definition per key" is a rule enforced in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
F = TypeVar("F")


class DuplicateRegistration(ValueError):
    """A key was registered a second time."""


def _describe(key: object) -> str:
    return key.__name__ if isinstance(key, type) else repr(key)


class Registry(Mapping[K, V], Generic[K, V]):
    """An insertion-ordered mapping that only grows, one entry per key.

    ``what`` names the table in errors (``"PyTorch emitter"``): a duplicate raises
    :class:`DuplicateRegistration`, naming the table and the key.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[K, V] = {}

    def add(self, key: K, value: V) -> V:
        if key in self._entries:
            raise DuplicateRegistration(f"{self.what} for {_describe(key)} registered twice")
        self._entries[key] = value
        return value

    def decorator(self, *keys: K) -> Callable[[F], F]:
        """A decorator registering the decorated object under every one of ``keys``."""

        def decorate(value: F) -> F:
            for key in keys:
                self.add(key, value)  # type: ignore[arg-type]
            return value

        return decorate

    def __getitem__(self, key: K) -> V:
        return self._entries[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self)} entries)"
