"""What every weights file is checked for before its arrays are used, whatever its format.

One set of rules for canonical and native files alike:

* the file can be read at all: any failure of a reader becomes a :class:`WeightsError`
  (:func:`reading`), never a framework's exception;
* the spec hash stored with the weights (:func:`spec_metadata`) is the spec's own
  (:func:`check_origin`);
* the entries and their shapes are those expected (:func:`check_fit`), listed when not;
* every value is a finite number stored in the dtype that holds it, or cast to it only when the
  caller allows casts (:func:`checked_arrays`).

Text read from a file is shown through :func:`printable`, so a crafted name cannot move the
cursor, clear the terminal or reorder what is printed.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from normspec.errors import WeightsError

METADATA_KEYS = ("normspec_hash", "spec_name", "normspec")
"""The metadata written with every weights file; only ``normspec_hash`` is checked."""

METADATA_ENTRY = "__normspec__"
"""Where formats without a metadata slot of their own keep it: an entry of the PyTorch
``state_dict._metadata`` and a top-level entry of the Flax msgpack state (no layer or
attribute name starts with ``_``)."""

ALLOW_CAST = "--allow-cast (allow_cast=True in Python) casts them"
SHOWN = 8
"""How many problems of one kind a message lists."""


class Stored(Protocol):
    """An array as a reader holds it: shape and dtype known before its values are read."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...


def printable(text: object, limit: int = 200) -> str:
    """``text`` with control and format characters escaped, cut to ``limit`` characters."""
    out = []
    for char in str(text):
        if unicodedata.category(char)[0] == "C":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    escaped = "".join(out)
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def reason_of(exc: BaseException) -> str:
    """A framework's whole error message on one bounded line, or its type's name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return printable("; ".join(lines), 600) if lines else type(exc).__name__


@contextlib.contextmanager
def reading(path: Path, failure: str) -> Iterator[None]:
    """Turn whatever goes wrong in the block into ``WeightsError("<failure>: <reason>")``;
    normspec's own errors pass through."""
    try:
        yield
    except WeightsError:
        raise
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except Exception as exc:  # every reader and framework raises its own error types
        raise WeightsError(f"{failure}: {reason_of(exc)}") from None


def spec_metadata(spec: Any) -> dict[str, str]:
    """The metadata stored with weights made for ``spec``: its hash, name and our version."""
    from normspec import __version__

    return {"normspec_hash": spec.hash, "spec_name": spec.name, "normspec": __version__}


def metadata_from(path: Path, entries: Mapping[Any, Any] | None) -> dict[str, str]:
    """Our metadata keys out of what a file stores; a value that is not text is refused."""
    if entries is None:
        return {}
    if not isinstance(entries, Mapping):
        raise WeightsError(f"{path}: its normspec metadata is not a mapping")
    out = {}
    for key in METADATA_KEYS:
        if key in entries:
            value = entries[key]
            if not isinstance(value, str):
                raise WeightsError(f"{path}: metadata {key} is not text")
            out[key] = value
    return out


def check_origin(path: Path, spec: Any, metadata: Mapping[str, str], *, required: bool) -> None:
    """Refuse weights made for another spec; a file without a hash only if ``required``."""
    made_for = metadata.get("normspec_hash")
    if made_for is None:
        if required:
            unchecked = f"so it cannot be checked against spec '{spec.name}'"
            raise WeightsError(f"{path} carries no spec hash, {unchecked}")
        return
    if made_for not in spec.hashes:  # a file saved before format version 2 has the old one
        name = printable(metadata.get("spec_name", "?"), 80)
        raise WeightsError(
            f"{path} was made for spec {name} ({printable(made_for, 80)}), "
            f"not for '{spec.name}' ({spec.hash})"
        )


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _listed(label: str, items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{label} " + ", ".join(items[:SHOWN]) + more


def fit_problems(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, Stored]) -> str:
    """Missing and unexpected entries with their shapes, and wrong shapes; ``""`` if none."""
    missing = [f"{k} {_shape(s)}" for k, s in expected.items() if k not in found]
    extra = [f"{printable(k, 80)} {_shape(v.shape)}" for k, v in found.items() if k not in expected]
    wrong = [
        f"{k}: expected {_shape(expected[k])}, got {_shape(found[k].shape)}"
        for k in expected
        if k in found and tuple(found[k].shape) != tuple(expected[k])
    ]
    parts = [_listed("missing", missing)] if missing else []
    if extra:
        parts.append(_listed("unexpected", extra))
    if wrong:
        parts.append(_listed("wrong shapes:", wrong))
    return "; ".join(parts)


def check_fit(
    what: str, expected: Mapping[str, tuple[int, ...]], found: Mapping[str, Stored]
) -> None:
    """Raise ``WeightsError("<what>: <problems>")`` unless ``found`` has exactly ``expected``'s
    entries and shapes."""
    problems = fit_problems(expected, found)
    if problems:
        raise WeightsError(f"{what}: {problems}")


def _same_type(a: np.dtype, b: np.dtype) -> bool:
    """The same numbers, whatever the byte order."""
    return a.newbyteorder("=") == b.newbyteorder("=")


def _dtype_problem(key: str, stored: np.dtype) -> str | None:
    """Why ``stored`` cannot be read at all (it holds no numbers), else ``None``."""
    if stored.kind not in "biufc":
        return f"{key} is stored as {printable(stored, 40)}, which holds no numbers"
    return None


def _cast_problem(key: str, stored: np.dtype, target: np.dtype) -> str | None:
    """``key`` is stored as other numbers than the model holds (a cast, maybe lossy)."""
    return None if _same_type(stored, target) else f"{key} is stored as {stored}, not {target}"


def _count(count: int, what: str) -> str:
    return f"{count} {what}{'s' * (count != 1)}"


def _value_problem(key: str, stored: np.ndarray, target: np.dtype) -> tuple[str | None, np.ndarray]:
    """``stored`` cast to ``target`` and what is wrong with its values, if anything."""
    if stored.dtype.kind == "c" and np.any(stored.imag != 0):
        return f"{key} has complex values", stored
    values = stored.real if stored.dtype.kind == "c" else stored
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int(np.count_nonzero(~np.isfinite(values)))
        return f"{key} has {_count(bad, 'NaN or infinite value')}", stored
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.asarray(values, dtype=target.newbyteorder("="))
    if target.kind == "f" and not np.isfinite(cast).all():
        bad = int(np.count_nonzero(~np.isfinite(cast)))
        return f"{key} has {_count(bad, 'value')} too large for {target}", stored
    return None, cast


def _refuse(path: Path, problems: list[str], hint: str = "") -> None:
    if problems:
        more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise WeightsError(f"{path}: " + "; ".join(problems[:SHOWN]) + more + hint)


def checked_arrays(
    path: Path,
    found: Mapping[str, Stored],
    dtypes: Mapping[str, np.dtype],
    *,
    allow_cast: bool,
) -> dict[str, np.ndarray]:
    """Each entry of ``dtypes`` read from ``found`` and cast to its dtype.

    Refused: a dtype that holds no numbers (strings, records, objects); a dtype other than the
    target's unless ``allow_cast`` (float64, float16, integers, bool or complex into float32);
    complex values with an imaginary part; NaN or infinite values, and values a cast turns
    into infinities. Dtypes are checked before any value is read."""
    stored = {key: np.dtype(found[key].dtype) for key in dtypes}
    _refuse(path, [p for k in dtypes if (p := _dtype_problem(k, stored[k]))])
    if not allow_cast:
        casts = [p for k, t in dtypes.items() if (p := _cast_problem(k, stored[k], t))]
        _refuse(path, casts, f"; {ALLOW_CAST}")
    out: dict[str, np.ndarray] = {}
    problems = []
    for key, target in dtypes.items():
        problem, out[key] = _value_problem(key, np.asarray(found[key]), target)
        if problem:
            problems.append(problem)
    _refuse(path, problems)
    return out
