"""Reading a spec's text: only regular files, never more than the size limit, and only
characters YAML allows."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path as FsPath
from typing import NoReturn

from normspec.errors import Location, Problem, SpecError
from normspec.loader.limits import MAX_SOURCE_BYTES

_NOT_ALLOWED = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def looks_like_path(text: str) -> bool:
    """One line that ends in ``.yaml``/``.yml``, names an existing file, or holds no ``:``
    (a spec's YAML text is a mapping, so it always holds one): a path, which is then reported
    as missing rather than parsed as YAML."""
    if "\n" in text or not text.strip():
        return False
    return text.endswith((".yaml", ".yml")) or ":" not in text or os.path.isfile(text)


def read_source(spec: str | FsPath) -> tuple[str, str]:
    """Return ``(text, source_name)`` for a path or for literal YAML text.

    Only regular files are read (a device, FIFO or socket could be endless or never answer),
    and never more than :data:`MAX_SOURCE_BYTES` + 1 bytes, even from a file that grows.
    """
    if not (isinstance(spec, FsPath) or looks_like_path(spec)):
        return spec, "<string>"
    path = FsPath(spec)
    name = str(path)

    def refuse(message: str, line: int = 1, column: int = 1) -> NoReturn:
        raise SpecError([Problem(Location(name, line, column), (), message)])

    if "\0" in name:
        refuse("cannot read file: the path is not valid")

    try:
        info = os.stat(path)  # follows symlinks: a link to /dev/urandom is a device
        if not stat.S_ISREG(info.st_mode):
            refuse(_not_regular(info.st_mode))
        if info.st_size > MAX_SOURCE_BYTES:
            refuse(f"file is {info.st_size:,} bytes; specs are limited to {MAX_SOURCE_BYTES:,}")
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it does not
        # wait for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                refuse(_not_regular(mode))
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        refuse(_os_message(exc))
    if len(data) > MAX_SOURCE_BYTES:  # it grew after the stat
        refuse(f"file is larger than {MAX_SOURCE_BYTES:,} bytes, the limit for specs")
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", errors="replace")) + 1
        refuse(f"file is not UTF-8 text (byte 0x{data[exc.start]:02X})", line, column)


def _not_regular(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((what for test, what in kinds if test(mode)), "a special file")
    return f"not a regular file ({kind}); a spec must be a regular file"


def _os_message(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "cannot read file: permission denied"
    return f"cannot read file: {exc.__class__.__name__}"


def check_characters(text: str, source: str) -> None:
    """Refuse characters YAML does not allow, pointing at the first one."""
    bad = _NOT_ALLOWED.search(text)
    if bad is None:
        return
    pos = bad.start()
    head = text[:pos]
    if "\r" in head or "\x85" in head or "\u2028" in head or "\u2029" in head:
        breaks = list(_BREAK.finditer(head))
        line, start = len(breaks) + 1, breaks[-1].end() if breaks else 0
    else:
        line, start = head.count("\n") + 1, head.rfind("\n") + 1
    code = ord(text[pos])
    what = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    message = f"{what} U+{code:04X} is not allowed"
    raise SpecError([Problem(Location(source, line, pos - start + 1), (), message)])
