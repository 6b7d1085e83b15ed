"""Garbage-collector settings for the short-lived core commands (validate, canonical, show,
schema, build).

Such a command imports its modules, builds the validators it needs and the spec, prints, and
ends: nearly every object it makes lives until the process exits, so the collector's passes
free nothing. They are paused while the command runs, and at exit every object is frozen, which
spares the interpreter's final collections over them, most of the time it takes to exit. Python
does not promise to finalize objects still alive at exit, and these commands write and close
their files before they return.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def short_lived(fn: F) -> F:
    """Run ``fn`` with the collector paused (restored afterwards, even when ``fn`` raises or
    exits) and freeze the objects left at interpreter exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        freeze_at_exit()
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper  # type: ignore[return-value]


@cache
def freeze_at_exit() -> None:
    """Register, once per process, :func:`gc.freeze` to run at exit."""
    atexit.register(gc.freeze)
