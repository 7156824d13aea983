"""The hook reference of docs/plugins.md against core/hookspecs.py, and every hook exercised by a test.

Each hookspec that exists when the test runs has a section ``### `hook` `` under "Hook reference" with: its
signature exactly as the hookspec declares it, its parameters, what the answer means, its kind (firstresult
or not, as the hookspec says), where core calls it (the files named exist and call it, the ``Rulebook``
wrappers named exist and reach it) and an example: an excerpt of a built-in region's file, found verbatim in
that file, whenever a built-in region implements the hook (otherwise a Python example, which
test_plugin_docs.py runs). No section documents a hook that does not exist. (datasette's plugin-hooks
page is the model: https://docs.datasette.io/en/stable/plugin_hooks.html)
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime

import pytest
from docparse import ROOT, blocks, read_doc, sections, tables

from core import cards, hookimpl, hookspecs
from core.calendar import WorkCalendar
from core.config import Settings
from core.model import Card, CardKind, CardState
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol
from core.services import Actor, Services
from core.store import open_store

HOOKS = sorted(name for name in dir(hookspecs)
               if callable(getattr(hookspecs, name)) and hasattr(getattr(hookspecs, name), "eportcard_spec"))
DOC = read_doc()
REFERENCE = DOC[DOC.index("## Hook reference"):].split("\n## ")[0]
SECTIONS = sections(REFERENCE, 3)


def _mentions(source: str, hook: str) -> bool:
    """Whether code calls ``hook`` by name: through pm.hook, or a route / ask with its name."""
    return bool(re.search(rf"\bhook\.{hook}\b|[\"']{hook}[\"']", source))


def _rulebook_reaches() -> dict[str, set[str]]:
    """Rulebook method -> the hooks it calls, directly or through the other methods it calls."""
    methods = {name: inspect.getsource(member) for name, member in vars(Rulebook).items() if inspect.isfunction(member)}
    calls = {name: set(re.findall(r"self\.(\w+)\(", source)) & set(methods) for name, source in methods.items()}
    direct = {name: {h for h in HOOKS if _mentions(source, h)} for name, source in methods.items()}
    reached: dict[str, set[str]] = {}

    def reach(name: str, seen: frozenset[str]) -> set[str]:
        found = set(direct[name])
        for callee in calls[name] - seen:
            found |= reach(callee, seen | {callee})
        return found

    for name in methods:
        reached[name] = reach(name, frozenset({name}))
    return reached


REACHES = _rulebook_reaches()
# Rulebook methods that call a hook under another name: offers -> businesses, ...
GENERIC = ("ask", "route", "foreign_plugins", "regions", "region")  # reach every hook or the regions table


def _wrappers(hook: str) -> list[str]:
    methods = [m for m, hooks in REACHES.items() if hook in hooks and not m.startswith("_")]
    if hook == "register_regions":
        return [m for m in methods if m in ("regions", "region", "home_branch")]
    return [m for m in methods if m not in GENERIC]


WRAPPERS = {hook: _wrappers(hook) for hook in HOOKS}


def _builtin_hooks() -> set[str]:
    pm = get_plugin_manager()
    return {caller.name for code, _ in BUILTIN_REGIONS for caller in pm.get_hookcallers(pm.get_plugin(code)) or ()}


def _bullet(section: str, label: str) -> str:
    """The text of the bullet ``- **label:**`` (its continuation lines joined)."""
    found = re.search(rf"^- \*\*{label}:?\*\*:?(.*?)(?=^- \*\*|^```|\Z)", section, re.M | re.S)
    assert found, f"no `- **{label}:**` bullet"
    return " ".join(found.group(1).split())


def test_hookspecs_are_found():
    assert {"register_regions", "businesses", "validate_application", "card_transitioned"} <= set(HOOKS)


def test_every_section_documents_a_hook_that_exists():
    assert not (stray := sorted(set(SECTIONS) - set(HOOKS))), f"sections for hooks core/hookspecs.py lacks: {stray}"


def test_the_overview_table_lists_every_hook_once():
    [overview] = [t for t in tables(REFERENCE) if t.header[0] == "hook"]
    listed = [row[0] for row in overview.rows]
    assert sorted(listed) == HOOKS, f"the overview lists {listed}"
    for hook, kind, _ in overview.rows:
        assert (kind == "firstresult") == getattr(hookspecs, hook).eportcard_spec["firstresult"], f"{hook}: {kind}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_section_has_signature_parameters_answer_kind_and_caller(hook):
    assert hook in SECTIONS, f"docs/plugins.md has no section `### `{hook}`` under Hook reference"
    section = SECTIONS[hook]
    spec = getattr(hookspecs, hook)
    assert spec.__doc__, f"hookspec {hook} has no docstring"
    signature = inspect.signature(spec)  # annotations are strings (from __future__ import annotations)
    params = [f"{p.name}: {p.annotation}" for p in signature.parameters.values()]
    declared = f"{hook}({', '.join(params)}) -> {signature.return_annotation}"
    first = next(b for b in blocks(section) if b.lang == "")
    assert first.text.strip() == declared, f"the doc shows {first.text.strip()!r}; core/hookspecs.py: {declared!r}"
    described = _bullet(section, "Parameters")
    assert re.findall(r"`(\w+): [^`]+`", described) == [p.name for p in signature.parameters.values()], \
        f"{hook}: the parameters bullet does not describe {params}"
    if not params:
        assert described.startswith("none"), described
    assert _bullet(section, "Returns")
    kind = _bullet(section, "Kind")
    assert kind.startswith("firstresult") == spec.eportcard_spec["firstresult"], f"{hook}: {kind}"


@pytest.mark.parametrize("hook", HOOKS)
def test_where_core_calls_the_hook_is_true(hook):
    called = _bullet(SECTIONS[hook], "Core calls it")
    named = re.findall(r"`Rulebook\.(\w+)`", called)
    for method in named:
        assert method in REACHES, f"{hook}: Rulebook has no method {method}"
        assert hook in REACHES[method], f"{hook}: Rulebook.{method} does not call it"
    files = re.findall(r"`(core/[\w/]+\.py)`", called)
    assert files, f"{hook}: the section names no file of core that calls it"
    for name in files:
        source = (ROOT / name).read_text(encoding="utf-8")
        callers = [m for m in named or WRAPPERS[hook]]
        assert _mentions(source, hook) or any(re.search(rf"\.{m}\(", source) for m in callers), \
            f"{hook}: {name} does not call it (nor {', '.join(f'Rulebook.{m}' for m in callers)})"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_an_example_and_excerpts_stand_in_their_files(hook):
    excerpts = [b for b in blocks(SECTIONS[hook]) if b.lang in ("toml", "python") and b.excerpt_of]
    if hook in _builtin_hooks():
        assert any(b.excerpt_of.startswith("plugins/") for b in excerpts), \
            f"{hook}: a built-in region implements it, so show its code (- **Example**, from `plugins/...`:)"
    else:  # a runnable example implementing it (test_plugin_docs.py runs it), in its section or one it points to
        runnable = [b for b in blocks(REFERENCE) if b.lang == "python" and not b.excerpt_of]
        assert any(re.search(rf"^def {hook}\(", b.text, re.M) for b in runnable), f"{hook}: no runnable example"
    for block in excerpts:
        if block.excerpt_of.endswith(".py"):
            assert f"def {hook}(" in block.text, f"{hook}: the excerpt of {block.excerpt_of} does not show it"
        text = (ROOT / block.excerpt_of).read_text(encoding="utf-8")
        chunks = [c for c in re.split(r"^\.\.\.$", block.text, flags=re.M) if c.strip()]
        at = 0
        for chunk in chunks:
            at = text.find(chunk.strip("\n"), at)
            assert at >= 0, f"{hook}: this excerpt does not stand in {block.excerpt_of}:\n{chunk}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    tests = list((ROOT / "tests").rglob("test_*.py"))
    # Implemented by a test plugin, called through the relay, or reached through a Rulebook wrapper.
    names = "|".join(re.escape(n) for n in (hook, *WRAPPERS[hook]))
    pattern = re.compile(rf"(\bdef {hook}\(|hook\.{hook}\b|\.({names})\()")
    assert any(pattern.search(p.read_text(encoding="utf-8")) for p in tests), f"no test exercises {hook}"


# -- the event hooks, heard by a listener plugin ------------------------------------------------------


class Listener:
    """Any plugin (not only a region) may listen to the events."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []

    @hookimpl
    def application_submitted(self, application):
        self.heard.append(("submitted", application.state.value))

    @hookimpl
    def application_transitioned(self, application, transition):
        self.heard.append(("transitioned", f"{transition.from_state.value}->{transition.to_state.value}"))

    @hookimpl
    def card_transitioned(self, card, event):
        self.heard.append(("card", f"{event.from_state.value}->{event.to_state.value}"))


def test_application_events_reach_a_listener_after_commit(tmp_path):
    listener = Listener()
    pm = get_plugin_manager(extra=[("listener", listener)])
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}", tmp_path / "blobs")
    store.upgrade()
    services = Services(settings=Settings(root=str(tmp_path)), store=store, rulebook=Rulebook(pm),
                        calendar=WorkCalendar())
    draft = services.applications.create(make_enrol(7, region="xiamen"), Actor.system())
    services.applications.submit(draft.id, Actor.system())
    assert ("submitted", "submitted") in listener.heard
    assert ("transitioned", "draft->submitted") in listener.heard


def test_card_events_reach_a_listener():
    listener = Listener()
    rulebook = Rulebook(get_plugin_manager(extra=[("listener", listener)]))
    app = make_enrol(8)
    card = Card(id="C1", enterprise_uscc=app.enterprise.uscc, kind=CardKind.LEGAL, holder=app.enterprise.legal_rep,
                state=CardState.ACTIVE)
    frozen_card, event, _ = cards.transition(card, "freeze", "staff", datetime(2026, 11, 2, tzinfo=UTC))
    rulebook.card_transitioned(frozen_card, event)
    assert listener.heard == [("card", "active->frozen")]
