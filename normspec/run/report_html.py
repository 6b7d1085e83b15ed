"""The HTML form of a report: the markdown that normspec's reports are written in (headings,
paragraphs, lists, tables, images, links, code and emphasis) as one HTML page, with the
images embedded (PNG as ``data:`` URIs) so the page stands alone.

Only that subset of markdown is read; every piece of text is escaped, so nothing in a label or
a file name becomes markup.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from normspec.files import write_text

EMBED_LIMIT = 32 * 1024 * 1024
"""Images are embedded up to this many bytes in all; later ones are linked (relative path)."""

STYLE = """\
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""

_IMAGE_LINE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_INLINE = re.compile(r"`(?P<code>[^`]+)`|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_EM = re.compile(r"\*(\S(?:[^*]*?\S)?)\*")


def _text(text: str) -> str:
    escaped = html.escape(text, quote=True)
    return _EM.sub(r"<em>\1</em>", _STRONG.sub(r"<strong>\1</strong>", escaped))


def _href(target: str) -> str:
    """A relative path or an http(s) address; anything else (``javascript:``) is dropped."""
    relative = ":" not in target.split("/", 1)[0]
    return html.escape(target, quote=True) if relative or target.startswith(
        ("https://", "http://")) else "#"  # fmt: skip


def inline(text: str) -> str:
    """One line of markdown text as HTML: code spans, links, strong and emphasis."""
    out, at = [], 0
    for match in _INLINE.finditer(text):
        out.append(_text(text[at : match.start()]))
        if match["code"] is not None:
            out.append(f"<code>{html.escape(match['code'])}</code>")
        else:
            out.append(f'<a href="{_href(match["href"])}">{inline(match["text"])}</a>')
        at = match.end()
    return "".join([*out, _text(text[at:])])


class Images:
    """Turns an image's path (relative to the report) into the ``src`` of an ``img``."""

    def __init__(self, folder: Path, limit: int = EMBED_LIMIT) -> None:
        self.folder, self.left = folder.resolve(), limit

    def src(self, path: str) -> str:
        file = (self.folder / path).resolve()
        inside = file.is_relative_to(self.folder) and file.suffix.lower() == ".png"
        if inside and file.is_file() and file.stat().st_size <= self.left:
            data = file.read_bytes()
            self.left -= len(data)
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        return html.escape(path, quote=True)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: Sequence[str]) -> str:
    header, body = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    head = "".join(f"<th>{inline(c)}</th>" for c in header)
    rows = ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body]
    body_html = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body_html}\n</tbody>\n</table>"


def _blocks(lines: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """Consecutive lines grouped by kind: heading, table, list, image, paragraph."""
    kind_of = [
        "" if not line.strip()
        else "heading" if line.startswith("#")
        else "table" if line.startswith("|")
        else "list" if line.startswith("- ")
        else "image" if _IMAGE_LINE.fullmatch(line.strip())
        else "paragraph"
        for line in lines
    ]  # fmt: skip
    group: list[str] = []
    for i, (line, kind) in enumerate(zip(lines, kind_of, strict=True)):
        if kind:
            group.append(line)
        following = kind_of[i + 1] if i + 1 < len(lines) else ""
        if group and (kind != following or kind in ("heading", "image")):
            yield kind, group
            group = []


def _block(kind: str, lines: list[str], images: Images) -> str:
    if kind == "heading":
        level = min(len(lines[0]) - len(lines[0].lstrip("#")), 6)
        return f"<h{level}>{inline(lines[0].lstrip('#').strip())}</h{level}>"
    if kind == "table":
        return _table(lines)
    if kind == "list":
        items = "\n".join(f"<li>{inline(line[2:])}</li>" for line in lines)
        return f"<ul>\n{items}\n</ul>"
    if kind == "image":
        match = _IMAGE_LINE.fullmatch(lines[0].strip())
        assert match is not None
        alt, path = match.groups()
        return f'<img alt="{html.escape(alt, quote=True)}" src="{images.src(path)}">'
    return "<p>" + " ".join(inline(line.strip()) for line in lines) + "</p>"


def to_html(markdown: str, folder: Path, title: str) -> str:
    """The page for ``markdown``, its images (paths relative to ``folder``) embedded."""
    images = Images(folder)
    body = "\n".join(_block(kind, lines, images) for kind, lines in _blocks(markdown.splitlines()))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def write_reports(folder: Path, markdown: str) -> None:
    """``report.md`` and ``report.html`` in ``folder``; the page's title is the first
    heading."""
    first = next((line for line in markdown.splitlines() if line.startswith("# ")), "# report")
    write_text(folder / "report.md", markdown)
    write_text(folder / "report.html", to_html(markdown, folder, first[2:].strip()))
