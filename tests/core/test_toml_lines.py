"""The TOML line scanner finds the line of every path tomllib reads, in tricky text and in real files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core.toml_lines import key_lines, line_of

ROOT = Path(__file__).resolve().parents[2]
REGION_FILES = sorted(ROOT.glob("plugins/*/region.toml"))

TRICKY = '''\
title = "a # not a comment"            # 1
"quoted.key" = 1                       # 2
dotted . inner = 'literal \\ kept'     # 3
text = """
[[not_a_table]]
fake = 1
"""                                    # 7
raw = \'\'\'
[also_not]\'\'\'                       # 9
escaped = "a \\" [b] = c"              # 10
when = 1979-05-27 07:32:00Z            # 11
nested = [ [1, 2],                     # 12
  [3,
   4] ]                                # 14

[[fruit]]                              # 16
name = "apple"
[fruit.physical]                       # 18
colour = "red"
[[fruit.variety]]                      # 20
name = "red delicious"
[[fruit.variety]]                      # 22
name = "granny smith"

[[fruit]]                              # 25
name = "banana"
[[fruit.variety]]                      # 27
name = "plantain"
points = [
  { x = 1, y = 2 },                    # 30
  # a comment line
  { x = 3, label = { zh = "三", en = "three" } },   # 32
]
'''


@pytest.mark.parametrize(("path", "line"), [
    (("title",), 1),
    (("quoted.key",), 2),
    (("dotted",), 3),
    (("dotted", "inner"), 3),
    (("text",), 4),
    (("raw",), 8),
    (("escaped",), 10),
    (("when",), 11),
    (("nested", 0, 1), 12),
    (("nested", 1), 13),
    (("nested", 1, 1), 14),
    (("fruit",), 16),
    (("fruit", 0), 16),
    (("fruit", 0, "physical"), 18),
    (("fruit", 0, "physical", "colour"), 19),
    (("fruit", 0, "variety", 0), 20),
    (("fruit", 0, "variety", 1), 22),
    (("fruit", 0, "variety", 1, "name"), 23),
    (("fruit", 1), 25),
    (("fruit", 1, "variety", 0), 27),  # counted per parent: the banana's first variety
    (("fruit", 1, "variety", 0, "points", 0), 30),
    (("fruit", 1, "variety", 0, "points", 1), 32),
    (("fruit", 1, "variety", 0, "points", 1, "label", "en"), 32),
])
def test_each_path_has_the_line_it_is_written_on(path, line):
    assert tomllib.loads(TRICKY)  # the text is valid TOML
    assert key_lines(TRICKY)[path] == line


def test_strings_hide_what_looks_like_tables_and_keys():
    lines = key_lines(TRICKY)
    assert not any(p[:1] in {("not_a_table",), ("fake",), ("also_not",), ("b",)} for p in lines)


def test_a_path_not_written_falls_back_to_its_nearest_parent():
    lines = key_lines(TRICKY)
    assert line_of(lines, ("fruit", 1, "variety", 0, "colour")) == 27
    assert line_of(lines, ("fruit", 0, "physical", "shape")) == 18
    assert line_of(lines, ("absent", "table")) == 1


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


@pytest.mark.parametrize("path", REGION_FILES, ids=lambda p: p.parent.name)
def test_every_path_of_a_real_region_file_is_found_on_a_line_naming_its_key(path):
    text = path.read_text(encoding="utf-8")
    lines, source = key_lines(text), text.splitlines()
    for found in list(_paths(tomllib.loads(text)))[1:]:
        assert found in lines, found
        if isinstance(found[-1], str):
            assert found[-1] in source[lines[found] - 1], found


def test_the_real_region_files_are_there():
    assert len(REGION_FILES) == 5
