"""Reading docs/plugins.md as the tests need it: fenced blocks with the paragraph above them, tables, sections.

A block's *caption* is the paragraph (or list item) right above it. Two captions have a meaning:
``from `plugins/...` `` (or ``core/``) marks an excerpt of that file, and a caption starting with
`` `eportcard_region_example/...` `` or `` `tests/...` `` marks a file of the doc's example distribution.
"""

from __future__ import annotations

import re
from pathlib import Path

from attrs import frozen

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"

FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
EXCERPT = re.compile(r"\bfrom `((?:plugins|core)/[\w./-]+)`", re.IGNORECASE)
EXAMPLE_FILE = re.compile(r"^`((?:eportcard_region_example|tests)/[\w./-]+)`")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@frozen
class Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based
    caption: str  # the paragraph above, joined into one line

    @property
    def excerpt_of(self) -> str | None:
        found = EXCERPT.search(self.caption)
        return found.group(1) if found else None

    @property
    def example_file(self) -> str | None:
        found = EXAMPLE_FILE.match(self.caption)
        return found.group(1) if found else None


@frozen
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    line: int


def read_doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _caption(lines: list[str], fence: int) -> str:
    """The paragraph ending right above line index ``fence`` (blank lines skipped), as one line."""
    end = fence - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    start = end
    while start > 0 and lines[start - 1].strip() and not FENCE.match(lines[start - 1]):
        start -= 1
    return " ".join(line.strip() for line in lines[start:end + 1])


def blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found: list[Block] = []
    n = 0
    while n < len(lines):
        opening = FENCE.match(lines[n])
        if not opening:
            n += 1
            continue
        indent, lang = opening.groups()
        end = next(i for i in range(n + 1, len(lines)) if lines[i].strip() == "```")
        # Only the fence's own indent goes (a block in a list item): an excerpt keeps its file's indentation.
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[n + 1:end])
        found.append(Block(lang, body + "\n", n + 1, _caption(lines, n)))
        n = end + 1
    return found


def clean(cell: str) -> str:
    """A table cell as the tests compare it: links reduced to their text, no backticks, ``\\|`` unescaped."""
    return LINK.sub(r"\1", cell).replace("`", "").replace("\\|", "|").strip()


def _cells(line: str) -> tuple[str, ...]:
    inner = line.strip().removeprefix("|").removesuffix("|").replace("\\|", "\0")
    return tuple(clean(cell.replace("\0", "\\|")) for cell in inner.split("|"))


def tables(text: str) -> list[Table]:
    """Every pipe table outside fenced blocks."""
    lines = text.splitlines()
    inside = False
    found: list[Table] = []
    n = 0
    while n < len(lines):
        if FENCE.match(lines[n]):  # an opening or a closing fence
            inside = not inside
            n += 1
            continue
        if inside or not lines[n].lstrip().startswith("|"):
            n += 1
            continue
        start = n
        while n < len(lines) and lines[n].lstrip().startswith("|"):
            n += 1
        header, _rule, *rows = (_cells(line) for line in lines[start:n])
        found.append(Table(header, tuple(rows), start + 1))
    return found


def sections(text: str, level: int) -> dict[str, str]:
    """Heading text (backticks dropped) -> its body, for headings of exactly ``level``; a body runs to the
    next heading of that level or above."""
    found: dict[str, str] = {}
    current: str | None = None
    body: list[str] = []
    inside = False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        heading = None if inside else re.match(r"^(#+) (.*)$", line)
        if heading and len(heading.group(1)) <= level:
            if current is not None:
                found[current] = "\n".join(body)
            current = heading.group(2).replace("`", "").strip() if len(heading.group(1)) == level else None
            body = []
        elif current is not None:
            body.append(line)
    if current is not None:
        found[current] = "\n".join(body)
    return found
