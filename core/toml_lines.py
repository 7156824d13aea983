"""Where each key and array element of a TOML document is written: path -> line number.

``tomllib`` keeps no positions, so an error found after parsing (a wrong type, an unknown key) could
name only its path. This scanner walks the same text once more and records the line each path starts
on, so the error can say ``region.toml:42``. It follows TOML v1.0.0 (https://toml.io/en/v1.0.0):
table headers ``[a.b]`` (#table), arrays of tables ``[[a.b]]`` counted per parent (#array-of-tables:
``[[a.b]]`` after ``[[a]]`` appends to the last ``a``), dotted and quoted keys (#keys), inline
tables (#inline-table), arrays spanning lines (#array), every kind of string (#string) and comments.
It runs only on text ``tomllib`` has already accepted, so it does not validate anything itself.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right

__all__ = ["Path", "key_lines", "line_of"]

Path = tuple[str | int, ...]

_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}#\n")


def key_lines(text: str) -> dict[Path, int]:
    """The 1-based line of every table, key and array element in ``text`` (first occurrence wins)."""
    return _Scanner(text).document()


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path``, or of its nearest written parent (a missing key: the table it is missing
    from); 1 when not even the first part is written (e.g. a required top-level table is absent)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


class _Scanner:
    def __init__(self, text: str) -> None:
        self.src = text
        self.pos = 0
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.lines: dict[Path, int] = {}
        self.tables: dict[Path, int] = {}  # array-of-tables path -> how many elements so far

    # -- positions -------------------------------------------------------------------------------------

    def line(self) -> int:
        return bisect_right(self.newlines, self.pos - 1) + 1

    def record(self, path: Path) -> None:
        self.lines.setdefault(path, self.line())

    def peek(self, n: int = 1) -> str:
        return self.src[self.pos:self.pos + n]

    def skip_blank(self, newlines: bool) -> None:
        """Spaces and tabs, and with ``newlines`` also line breaks and comments."""
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#" and newlines:
                end = self.src.find("\n", self.pos)
                self.pos = len(self.src) if end < 0 else end
            else:
                return

    # -- document --------------------------------------------------------------------------------------

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.src):
                return self.lines
            if self.peek(2) == "[[":
                table = self.array_table()
            elif self.peek() == "[":
                self.pos += 1
                table = self.resolve(self.key(closing="]"))
                self.pos += 1
                self.record(table)
            else:
                self.key_value(table)

    def resolve(self, keys: Path) -> Path:
        """A header's path: every prefix naming an array of tables means its last element. A prefix
        no header names (``defaults`` of ``[defaults.courier]``) is written here."""
        path: Path = ()
        for key in keys:
            path = (*path, key)
            if path in self.tables:
                path = (*path, self.tables[path] - 1)
            self.record(path)
        return path

    def array_table(self) -> Path:
        self.pos += 2
        keys = self.key(closing="]")
        self.pos += 2
        array = (*self.resolve(keys[:-1]), keys[-1])
        index = self.tables.get(array, 0)
        self.tables[array] = index + 1
        self.record(array)
        self.record((*array, index))
        return (*array, index)

    def key_value(self, table: Path) -> None:
        keys = self.key(closing="=")
        for end in range(1, len(keys)):  # a.b.c = 1 also writes the tables a and a.b here
            self.record((*table, *keys[:end]))
        self.pos += 1  # "="
        self.value((*table, *keys))

    def key(self, closing: str) -> Path:
        """A dotted key up to ``closing`` (not consumed); each part recorded as it is met."""
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            ch = self.peek()
            if ch in ('"', "'"):
                start = self.pos
                self.string()
                parts.append(tomllib.loads(f"k = {self.src[start:self.pos]}")["k"])
            else:
                start = self.pos
                while self.pos < len(self.src) and self.src[self.pos] in _BARE_KEY:
                    self.pos += 1
                parts.append(self.src[start:self.pos])
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.pos += 1

    # -- values ----------------------------------------------------------------------------------------

    def value(self, path: Path) -> None:
        self.skip_blank(newlines=False)
        self.record(path)
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.array(path)
        elif ch == "{":
            self.inline_table(path)
        else:  # number, boolean, date: up to the next delimiter (a date may contain a space)
            while self.pos < len(self.src) and self.src[self.pos] not in _SCALAR_END:
                self.pos += 1

    def array(self, path: Path) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.pos += 1
                return
            self.value((*path, index))
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.pos += 1
            index += 1

    def inline_table(self, path: Path) -> None:
        self.pos += 1
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.pos += 1
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.pos += 1

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            end = self.src.find(quote * 3, self.pos + 3)
            while quote == '"' and self._escaped(end):
                end = self.src.find(quote * 3, end + 1)
            self.pos = end + 3
            # up to two more quotes may close the string ('''a''''' is "a''": toml.io #string)
            while self.peek() == quote:
                self.pos += 1
            return
        self.pos += 1
        while self.src[self.pos] != quote:
            self.pos += 2 if quote == '"' and self.src[self.pos] == "\\" else 1
        self.pos += 1

    def _escaped(self, index: int) -> bool:
        """Whether the character at ``index`` is preceded by an odd number of backslashes."""
        count = 0
        while index - count - 1 >= 0 and self.src[index - count - 1] == "\\":
            count += 1
        return count % 2 == 1
