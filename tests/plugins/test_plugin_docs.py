"""docs/plugins.md against the code: a newcomer adds a region from the guide alone, so it must not drift.

- Field tables (header ``| `Class` field | type | default | meaning |``): every attrs class of core.rules and
  core.regiondata (and any class their fields use) has one, listing exactly its fields with the type and
  default the class has, in the doc's words (:func:`type_words`, :func:`default_words`); no table names a
  class or a field that does not exist.
- Enumeration tables (``| `Enum` value | meaning |``): every enum those fields use, and every enum of
  core.rules, has one listing exactly its values.
- TOML blocks: region data loads through ``load_region_data`` (a block without ``[region]`` is a fragment,
  loaded after the doc's smallest file, the first complete one), a deployment config through
  ``parse_settings``; ``broken.toml`` fails with exactly the error printed under it. Excerpts of built-in
  files are compared with those files by test_hooks_documented.py.
- The complete example is installed as a real distribution (dist-info with its entry point) and its own
  tests run; every other Python block is run as an add-on plugin and each hook it implements is called.
- Every ``eportcard ...`` line of a shell block names commands and options that exist.
"""

from __future__ import annotations

import json
import runpy
import shlex
import sys
import tomllib
import types
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import attrs
import click
import pytest
from click.testing import CliRunner
from distkit import install_distribution, region_module
from docparse import Block, blocks, read_doc, tables

import core.regiondata
import core.rules
from core import cards, lifecycle
from core.cli import main
from core.config import Settings, parse_settings
from core.errors import ConfigError
from core.model import Business, Card, CardKind, CardState
from core.notices import NoticeKind, check_wording
from core.notify.base import GatewayContext, GatewayKind, Outgoing
from core.plugins import get_plugin_manager
from core.regiondata import RegionData, load_region_data
from core.rulebook import Rulebook
from core.rules import Text
from core.samples import make_enrol
from core.testing import conformance_problems

DOC = read_doc()
BLOCKS = blocks(DOC)
TABLES = tables(DOC)

# ---- what the code has ---------------------------------------------------------------------------------

MODULES = (core.rules, core.regiondata)


def _field_types(cls: type) -> list[Any]:
    return [f.type for f in attrs.fields(attrs.resolve_types(cls))]


def _named_in(tp: Any) -> list[type]:
    """The classes and enums a field type names (``tuple[Material, ...] | None`` names Material)."""
    if get_origin(tp) is not None:
        return [named for arg in get_args(tp) for named in _named_in(arg)]
    return [tp] if isinstance(tp, type) and (attrs.has(tp) or issubclass(tp, Enum)) else []


def _reachable() -> tuple[list[type], list[type]]:
    todo = [obj for module in MODULES for obj in vars(module).values()
            if isinstance(obj, type) and obj.__module__ == module.__name__ and (attrs.has(obj) or issubclass(obj, Enum))]
    seen: list[type] = []
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        if attrs.has(cls):
            todo += [named for tp in _field_types(cls) for named in _named_in(tp)]
    by_name = sorted(seen, key=lambda c: c.__name__)
    return [c for c in by_name if attrs.has(c)], [c for c in by_name if issubclass(c, Enum)]


CLASSES, ENUMS = _reachable()


def type_words(tp: Any) -> str:
    """How the doc writes a field's type."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        [kept] = [arg for arg in args if arg is not type(None)]
        return type_words(kept)
    if origin is tuple:
        return f"list of {type_words(args[0])}"
    if origin is dict and args[0] is str:  # TOML tables keyed by name: [sources."FILE"]
        return f"tables of {type_words(args[1])}"
    simple = {str: "string", bool: "bool", int: "integer", Text: "text"}
    if tp in simple:
        return simple[tp]
    if isinstance(tp, type) and (attrs.has(tp) or issubclass(tp, Enum)):
        return tp.__name__
    raise AssertionError(f"the doc has no words for the type {tp!r}: extend type_words and the doc's legend")


def default_words(field: attrs.Attribute) -> str:
    """How the doc writes a field's default, as TOML would (``—``: not stated)."""
    value = field.default
    if value is attrs.NOTHING:
        return "required"
    if isinstance(value, attrs.Factory):
        value = value.factory()
    if value is None:
        return "—"
    if isinstance(value, Enum):
        return json.dumps(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str | tuple):
        return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)
    if (attrs.has(type(value)) and value == type(value)()) or value == {}:
        return "{}"
    raise AssertionError(f"the doc has no words for the default {value!r}")


# ---- what the doc says ---------------------------------------------------------------------------------


def _tables_of(kind: str) -> dict[str, list]:
    """Class or enum name -> its tables (``kind`` is "field" or "value")."""
    found: dict[str, list] = {}
    for table in TABLES:
        name, _, word = table.header[0].partition(" ")
        if word == kind:
            found.setdefault(name, []).append(table)
    return found


FIELD_TABLES = _tables_of("field")
VALUE_TABLES = _tables_of("value")


def test_the_doc_has_the_tables_and_blocks_the_tests_read():
    assert len(FIELD_TABLES) >= 20 and len(VALUE_TABLES) >= 8
    assert {b.lang for b in BLOCKS} >= {"toml", "python", "sh", "text"}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_field_table_lists_every_field_with_its_type_and_default(cls):
    name = cls.__name__
    assert name in FIELD_TABLES, f"docs/plugins.md has no `| `{name}` field | type | default | meaning |` table"
    [table] = FIELD_TABLES[name]
    assert table.header == (f"{name} field", "type", "default", "meaning"), f"line {table.line}: {table.header}"
    fields = {f.name: f for f in attrs.fields(attrs.resolve_types(cls))}
    documented = [row[0] for row in table.rows]
    assert len(documented) == len(set(documented)), f"line {table.line}: a field of {name} is listed twice"
    assert not (missing := [f for f in fields if f not in documented]), f"{name}: fields not documented: {missing}"
    assert not (extra := [f for f in documented if f not in fields]), f"{name}: documented fields it lacks: {extra}"
    for field_name, type_cell, default_cell, meaning in table.rows:
        field = fields[field_name]
        expected = (type_words(field.type), default_words(field))
        assert (type_cell, default_cell) == expected, \
            f"{name}.{field_name}: the doc says type {type_cell!r}, default {default_cell!r}; the code: {expected}"
        assert meaning, f"{name}.{field_name}: no meaning given"


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_enumeration_table_lists_exactly_its_values(enum):
    name = enum.__name__
    assert name in VALUE_TABLES, f"docs/plugins.md has no `| `{name}` value | meaning |` table"
    [table] = VALUE_TABLES[name]
    documented = [row[0] for row in table.rows]
    assert len(documented) == len(set(documented)), f"line {table.line}: a value of {name} is listed twice"
    assert documented == [member.value for member in enum], \
        f"{name}: the doc lists {documented}, the enum has {[m.value for m in enum]}"
    assert all(row[1] for row in table.rows), f"{name}: a value without its meaning"


def test_no_table_documents_a_class_or_enum_that_does_not_exist():
    for tables_, known in ((FIELD_TABLES, CLASSES), (VALUE_TABLES, ENUMS)):
        names = {c.__name__ for c in known}
        assert not (stray := sorted(set(tables_) - names)), f"tables for what the code does not have: {stray}"
        assert not (twice := sorted(n for n, ts in tables_.items() if len(ts) > 1)), f"documented twice: {twice}"


def test_the_legend_explains_every_type_word_the_tables_use():
    legend = DOC[DOC.index("**Reading the tables.**"):].split("\n\n")[0]
    used = {type_words(tp) for cls in CLASSES for tp in _field_types(cls)}
    basic = {word.removeprefix("list of ") for word in used} & {"string", "bool", "integer", "text"}
    containers = {kind for kind in ("list of", "tables of") if any(w.startswith(kind) for w in used)}
    for word in sorted(basic | containers):
        assert f"`{word}" in legend, f"the legend does not explain `{word}`"


# ---- TOML ----------------------------------------------------------------------------------------------

TOML = [b for b in BLOCKS if b.lang == "toml" and b.excerpt_of is None]
REGION_KEYS = {f.name for f in attrs.fields(RegionData)}
CONFIG_KEYS = {f.name for f in attrs.fields(Settings)} - {"root"}


def _is_broken(block: Block) -> bool:
    return "`broken.toml`" in block.caption


def _complete(text: str) -> bool:
    """A whole region file (``[region]`` with its code); anything less is a fragment."""
    return "code" in tomllib.loads(text).get("region", {})


def _smallest() -> str:
    complete = [b for b in TOML if not _is_broken(b) and _complete(b.text)]
    assert complete, "docs/plugins.md shows no complete region file"
    return complete[0].text


def test_there_are_region_fragments_and_a_config_to_load():
    kinds = {frozenset(tomllib.loads(b.text)) <= CONFIG_KEYS for b in TOML}
    assert kinds == {True, False} and sum(1 for b in TOML if _is_broken(b)) == 1


@pytest.mark.parametrize("block", [b for b in TOML if not _is_broken(b)], ids=lambda b: f"line{b.line}")
def test_toml_example_loads(block, tmp_path):
    keys = set(tomllib.loads(block.text))
    if keys <= CONFIG_KEYS and not keys <= REGION_KEYS:
        parse_settings(block.text, tmp_path)  # a deployment's eportcard.toml
        return
    assert keys <= REGION_KEYS, f"line {block.line}: neither region data nor a config: {sorted(keys)}"
    text = block.text if _complete(block.text) else _smallest() + "\n" + block.text
    path = tmp_path / "region.toml"
    path.write_text(text, encoding="utf-8")
    load_region_data(path)


def test_the_broken_example_fails_with_the_error_the_doc_prints(tmp_path, monkeypatch):
    [broken] = [b for b in TOML if _is_broken(b)]
    shown = next(b for b in BLOCKS if b.line > broken.line and b.lang == "text")
    monkeypatch.chdir(tmp_path)
    Path("broken.toml").write_text(broken.text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_region_data("broken.toml")
    assert refused.value.en == shown.text.strip()
    assert refused.value.zh.count("broken.toml:") == shown.text.count("broken.toml:")


# ---- the complete example, installed ------------------------------------------------------------------

EXAMPLE = "eportcard_region_example"


def _example_files() -> dict[str, str]:
    return {b.example_file: b.text for b in BLOCKS if b.example_file}


def _forget(prefix: str) -> None:
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


@pytest.fixture
def example_installed(tmp_path, monkeypatch):
    """The doc's example distribution, installed into ``tmp_path/site`` and put on sys.path."""
    files = _example_files()
    assert {f"{EXAMPLE}/region.toml", f"{EXAMPLE}/__init__.py", "tests/test_conformance.py"} <= set(files)
    site, own = tmp_path / "site", tmp_path / "own"
    for relative, text in files.items():
        target = (site if relative.startswith(EXAMPLE) else own) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    install_distribution(site, "eportcard-region-example", f"example = {EXAMPLE}:plugin")
    monkeypatch.syspath_prepend(str(site))
    yield own / "tests"
    _forget(EXAMPLE)


def test_the_complete_example_is_a_region_that_passes_the_kit(example_installed):
    pm = get_plugin_manager()
    assert pm.disabled == [] and type(pm.get_plugin("example")).__module__ == EXAMPLE
    assert conformance_problems(pm, "example") == []
    module = runpy.run_path(str(example_installed / "test_conformance.py"))
    ran = [name for name, test in module.items() if name.startswith("test_") and test() is None]
    assert ran, "the example's tests define no test function"


def test_the_complete_example_guide_states_the_requirement_its_code_enforces(example_installed):
    rulebook = Rulebook(get_plugin_manager())
    data = load_region_data(Path(sys.modules[EXAMPLE].__file__).with_name("region.toml"))
    [requirement] = data.region.requirements
    app = make_enrol(1, region="example")
    refused = rulebook.validate("example", attrs.evolve(app, remarks=""))
    assert [p.rule for p in refused] == [requirement.code]
    assert rulebook.validate("example", attrs.evolve(app, remarks="王五 0000-00000000")) == []
    for lang, words in (("zh", requirement.text.zh), ("en", requirement.text.en)):
        shown = CliRunner().invoke(main, ["guide", "example", "enrol", "--lang", lang])
        assert shown.exit_code == 0 and words in shown.output, shown.output


def test_the_complete_example_numbers_as_its_comment_says(example_installed):
    rulebook = Rulebook(get_plugin_manager())
    app = make_enrol(1, region="example")
    assert rulebook.acceptance_number("example", attrs.evolve(app, channel="web"), 7) == "WEX0000007"
    assert rulebook.acceptance_number("example", attrs.evolve(app, channel="post"), 7) == "EX0000007"


# ---- every other Python block: run as an add-on plugin ------------------------------------------------

SNIPPETS = [b for b in BLOCKS if b.lang == "python" and b.excerpt_of is None and b.example_file is None]


def _samples() -> dict[str, Any]:
    """A value for every hook parameter: what core passes."""
    app = make_enrol(3, region="xiamen")
    submitted = lifecycle.submit(app, "enterprise", datetime(2026, 11, 2, tzinfo=UTC), "XM0000001", [])
    card = Card(id="C1", enterprise_uscc=app.enterprise.uscc, kind=CardKind.LEGAL, holder=app.enterprise.legal_rep,
                state=CardState.ACTIVE)
    frozen_card, event, _ = cards.transition(card, "freeze", "staff", datetime(2026, 11, 2, tzinfo=UTC))
    return {"region": "xiamen", "business": Business.ENROL, "application": submitted, "seq": 1,
            "enterprise": app.enterprise, "transition": submitted.history[-1], "card": frozen_card, "event": event}


def _check_answer(hook: str, kwargs: dict[str, Any], answer: Any) -> None:
    if hook == "notice_wording" and answer is not None:
        check_wording(kwargs["kind"], answer)  # core would refuse a wording that drops or invents a fact
    if hook == "register_gateways":
        assert answer and all(isinstance(kind, GatewayKind) for kind in answer)
        for kind in answer:
            gateway = kind.make(GatewayContext(channel=kind.channel, options={}))
            message = Outgoing(channel=kind.channel, kind="completed", recipient="13800000000", text="办结",
                               key="k1")
            assert isinstance(gateway.send(message), str)


@pytest.mark.parametrize("block", SNIPPETS, ids=lambda b: f"line{b.line}")
def test_python_example_runs_as_a_plugin(block):
    module = types.ModuleType(f"doc_example_line{block.line}")
    exec(compile(block.text, f"docs/plugins.md:{block.line}", "exec"), module.__dict__)
    pm = get_plugin_manager(extra=[("doc-example", module)])  # a fault would be a ConfigError here
    hooks = [caller.name for caller in pm.get_hookcallers(module) or ()]
    assert hooks, f"line {block.line}: the example implements no hook"
    samples = _samples()
    for hook in hooks:
        caller = getattr(pm.hook, hook)
        names = caller.spec.argnames
        for kind in (NoticeKind if "kind" in names else [None]):
            kwargs = {name: kind if name == "kind" else samples[name] for name in names}
            answers = [impl.function(**{n: kwargs[n] for n in impl.argnames}) for impl in caller.get_hookimpls()
                       if impl.plugin is module]
            for answer in answers:
                _check_answer(hook, kwargs, answer)


# ---- the plugin fault the doc shows ------------------------------------------------------------------


def test_the_fault_line_shown_is_the_one_written(tmp_path, monkeypatch):
    caption = "misspelled `validate_aplication` in `eportcard-region-qingdao`"
    shown = next(b for b in BLOCKS if b.lang == "text" and caption in b.caption)
    misspelled = "    @hookimpl\n    def validate_aplication(self, region, application):\n        return []\n"
    install_distribution(tmp_path, "eportcard-region-qingdao", "qingdao = eportcard_region_qingdao:plugin",
                         {"eportcard_region_qingdao": region_module("qingdao", misspelled)}, version="0.1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        [fault] = get_plugin_manager().disabled
    finally:
        _forget("eportcard_region_qingdao")
    assert fault.line == shown.text.strip()


# ---- command lines -------------------------------------------------------------------------------------


def _command_lines() -> list[tuple[int, list[str]]]:
    found = []
    for block in BLOCKS:
        if block.lang != "sh":
            continue
        for line in block.text.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["eportcard"]:
                found.append((block.line, words[1:]))
    return found


def _option(command: click.Command, word: str) -> click.Parameter | None:
    return next((p for p in command.params if isinstance(p, click.Option) and word in (*p.opts, *p.secondary_opts)),
                None)


@pytest.mark.parametrize(("line", "words"), [pytest.param(line, words, id=" ".join(words))
                                             for line, words in _command_lines()])
def test_command_line_names_commands_and_options_that_exist(line, words):
    path: list[click.Command] = [main]
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word.startswith("-"):
            option = next((o for c in reversed(path) if (o := _option(c, word.split("=")[0]))), None)
            assert option is not None, f"line {line}: eportcard {' '.join(words)}: no option {word}"
            if not (option.is_flag or option.count or "=" in word):
                rest.pop(0)  # its value
        elif isinstance(path[-1], click.Group):
            assert word in path[-1].commands, f"line {line}: eportcard {' '.join(words)}: no command {word}"
            path.append(path[-1].commands[word])
    assert not isinstance(path[-1], click.Group) or path[-1].invoke_without_command, f"line {line}: {words}"
