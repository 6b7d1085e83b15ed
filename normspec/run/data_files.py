"""Reading data files, which are untrusted input: every failure is a :class:`DataError` that
names the file and what is wrong, and sizes are checked before anything large is read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from normspec.errors import NormspecError
from normspec.weight_checks import reason_of


class DataError(NormspecError):
    """A data set cannot be loaded."""


MiB = 2**20
CACHE_FILE_LIMIT = 256 * MiB
"""The most normspec reads from one Keras-cache file, decompressed (the real ones hold under
60 MiB each)."""


@contextlib.contextmanager
def reading(where: object, failure: str) -> Iterator[None]:
    """Turn whatever goes wrong in the block into ``DataError("<where>: <failure> (<reason>)")``;
    normspec's own errors and a missing file pass through."""
    try:
        yield
    except (NormspecError, FileNotFoundError):
        raise
    except Exception as exc:  # every parser raises its own error types on a crafted file
        raise DataError(f"{where}: {failure} ({reason_of(exc)})") from None
