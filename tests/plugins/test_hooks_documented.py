"""Every hook is documented in docs/plugins.md and exercised by some test (datasette's pattern)."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import cards, hookimpl, hookspecs
from core.calendar import WorkCalendar
from core.config import Settings
from core.model import Card, CardKind, CardState
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol
from core.services import Actor, Services
from core.store import open_store

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in dir(hookspecs)
               if callable(getattr(hookspecs, name)) and hasattr(getattr(hookspecs, name), "eportcard_spec"))

# Rulebook methods that call a hook under another name (core/rulebook.py).
WRAPPERS = {"register_regions": ("regions", "region"), "businesses": ("offers", "offer"),
            "required_materials": ("materials",), "courier_policy": ("courier",), "timeframe": ("timeframe",),
            "workflow_steps": ("steps",), "validate_application": ("validate",), "medium_policy": ("medium",),
            "upload_policy": ("upload",), "application_submitted": ("submitted",),
            "application_transitioned": ("transitioned",)}


def test_hookspecs_are_found():
    assert {"register_regions", "businesses", "validate_application", "card_transitioned"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_the_plugin_guide(hook):
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert re.search(rf"`{hook}`", docs), f"docs/plugins.md does not document the hook {hook}"
    assert getattr(hookspecs, hook).__doc__, f"hookspec {hook} has no docstring"


def documented_signatures() -> dict[str, tuple[list[str], str, str]]:
    """The hook reference table of docs/plugins.md: hook -> (["name: type", ...], returns, kind)."""
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    table = docs[docs.index("| hook | parameters | returns |"):].split("\n\n")[0]
    rows: dict[str, tuple[list[str], str, str]] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip().replace("\0", "|") for c in line.replace("\\|", "\0").strip("|").split("|")]
        hook = cells[0].strip("`")
        if hook in HOOKS:
            rows[hook] = (re.findall(r"`([^`]+)`", cells[1]), cells[2].strip("`"), cells[3])
    return rows


@pytest.mark.parametrize("hook", HOOKS)
def test_documented_signature_is_the_hookspec(hook):
    documented = documented_signatures()
    assert hook in documented, f"docs/plugins.md: the hook table has no row for {hook}"
    params, returns, kind = documented[hook]
    spec = getattr(hookspecs, hook)
    signature = inspect.signature(spec)  # annotations are strings (from __future__ import annotations)
    assert params == [f"{p.name}: {p.annotation}" for p in signature.parameters.values()], \
        f"docs/plugins.md shows {hook}({', '.join(params)}), the hookspec is {hook}{signature}"
    assert returns == signature.return_annotation, f"{hook} returns {signature.return_annotation}, not {returns}"
    assert kind.startswith("firstresult") == spec.eportcard_spec["firstresult"], f"{hook}: {kind}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    tests = list((ROOT / "tests").rglob("test_*.py"))
    # Implemented by a test plugin, called through the relay, or reached through its Rulebook wrapper.
    names = "|".join(re.escape(n) for n in (hook, *WRAPPERS.get(hook, ())))
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
