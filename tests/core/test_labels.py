"""The one label catalogue (core.labels) is complete: every member of every enum a person reads has a
Chinese and an English label, every text key has both, and every key a template, a page module or the
guide asks for exists (a missing one would show its bare key on the page)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from core import cards, labels, lifecycle
from core.guide import render as guide_render
from core.guide.build import SECTIONS, TOPICS
from core.labels import ENUM_LABELS, TEXTS, enum_label, label, pair
from core.model import (
    AppState,
    Business,
    CardKind,
    CardState,
    Delivery,
    IdType,
    Medium,
    Pickup,
    RejectionReason,
)
from core.rules import (
    ChannelKind,
    Condition,
    MaterialForm,
    Milestone,
    OutletKind,
    Payer,
    ReadingKind,
    StepActor,
)
from core.services.actors import STAFF_ROLES
from core.web import portal, staff
from core.web.cards import script_texts
from core.web.i18n import t

CORE = Path(labels.__file__).resolve().parent
TEMPLATES = CORE / "web" / "templates"
LABELLED = (Business, AppState, RejectionReason, CardKind, CardState, ChannelKind, Condition, MaterialForm, OutletKind,
            Milestone, Payer, ReadingKind, StepActor,
            IdType, Medium, Pickup, Delivery)


def _complete(value: tuple[str, str]) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(s, str) and s.strip() for s in value)


@pytest.mark.parametrize("enum", LABELLED, ids=lambda e: e.__name__)
def test_every_member_of_a_labelled_enum_has_both_languages(enum):
    table = ENUM_LABELS[enum]
    assert set(table) == set(enum)
    assert all(type(member) is enum for member in table), "keyed by the members themselves"
    for member in enum:
        assert _complete(table[member]), member


def test_the_labelled_enums_are_all_there():
    assert set(ENUM_LABELS) == set(LABELLED)


def test_every_text_key_has_both_languages():
    missing = [key for key, value in TEXTS.items() if not _complete(value)]
    assert not missing


def test_a_value_shared_by_two_enums_keeps_each_enums_label():
    # StrEnum members equal their strings: one shared table would give the state the milestone's name.
    assert AppState.SUBMITTED == Milestone.SUBMITTED
    assert label(AppState.SUBMITTED) == "已提交" and label(Milestone.SUBMITTED) == "提交"
    assert label(Business.RENEW, "en") == "Certificate renewal" and label("card.action.renew", "en") == "Renew"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_both_languages_of_a_text_fill_the_same_placeholders():
    assert sorted(k for k, (zh, en) in TEXTS.items() if _placeholders(zh) != _placeholders(en)) == []


def test_lookups():
    assert pair(AppState.REJECTED) == ("已退单", "Rejected")
    assert label(CardState.REPORTED_LOST, "en") == "reported lost"
    assert enum_label(AppState, "completed", "en") == "Completed"
    assert enum_label(AppState, "no_such_state") == "no_such_state"
    assert label("no.such.key") == "no.such.key"  # visible on the page, never a crash


# ---- every key that is asked for exists --------------------------------------------------------------------

T_CALL = re.compile(r"\bt\(\s*'([^']*)'\s*(~)?")
T_WITH_VALUES = re.compile(r"\bt\(\s*'([^']*)'\s*,([^)]*)\)")


def _template_keys() -> tuple[set[str], set[str]]:
    """Literal keys of ``t('...')`` in the templates, and the prefixes of ``t('prefix.' ~ value)``."""
    literal, prefixes = set(), set()
    for path in TEMPLATES.rglob("*.html"):
        for key, joined in T_CALL.findall(path.read_text(encoding="utf-8")):
            (prefixes if joined else literal).add(key)
    return literal, prefixes


def test_every_key_a_template_uses_exists():
    literal, _ = _template_keys()
    assert literal, "the scan found no t('...') call"
    assert sorted(literal - set(TEXTS)) == []


def test_a_template_fills_exactly_the_placeholders_of_its_text():
    calls = [m for path in TEMPLATES.rglob("*.html") for m in T_WITH_VALUES.findall(path.read_text(encoding="utf-8"))]
    assert calls
    for key, values in calls:
        given = {v.split("=")[0].strip() for v in values.split(",")}
        assert given == _placeholders(TEXTS[key][0]), key
    assert t("cards.manage.renewal_pin", "en", initial_pin="88888888").endswith("initial 88888888; change it afterwards.")


def test_one_mechanism_no_inline_pairs_in_templates_or_scripts():
    for path in [*TEMPLATES.rglob("*.html"), *(CORE / "web" / "static").glob("*.js")]:
        assert not re.search(r"\bL\(", path.read_text(encoding="utf-8")), path


def test_every_text_the_card_script_asks_for_is_handed_to_it():
    script = (CORE / "web" / "static" / "cards.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'\bT\("([^"]+)"\)', script))
    assert "cards.js.working" in asked
    for lang in ("zh", "en"):
        handed = script_texts(lang)
        assert sorted(asked - set(handed)) == []
        assert {f"kind.{k.value}" for k in CardKind} <= set(handed)  # TEXTS["kind." + status.kind]
    assert script_texts("en")["kind.legal"] == "legal card" and script_texts("zh")["cards.js.locked"] == "已锁定"


def test_every_built_key_a_template_uses_exists():
    _, prefixes = _template_keys()
    # t('prefix.' ~ value): the values each template joins on.
    values = {"step.": portal.STEPS, "staff.action.": staff.STAFF_ACTIONS,
              "guide.text.": SECTIONS, "queue.": [q.code for q in lifecycle.WORK_QUEUES],
              "done.": [*staff.STAFF_ACTIONS, "personalize", "withdraw", "delete"]}
    assert prefixes == set(values), "a new built key: say here which values it is built from"
    assert sorted(f"{prefix}{v}" for prefix, vs in values.items() for v in vs if f"{prefix}{v}" not in TEXTS) == []


def _literal_keys(path: Path, function: str) -> set[str]:
    """String arguments of calls to ``function(...)`` (or ``x.function(...)``) in a module."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == function and isinstance(node.args[0].value, str):
                keys.add(node.args[0].value)
    return keys


def test_every_key_a_page_module_asks_for_exists():
    asked = set()
    for path in (CORE / "web").glob("*.py"):
        for function in ("t", "label", "pair"):
            asked |= _literal_keys(path, function)
        # keys handed to a template (``t(personalise.reason)``)
        asked |= set(re.findall(r'"((?:staff|portal|cards)\.[a-z_]+\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    assert asked
    assert sorted(asked - set(TEXTS)) == []


def test_every_card_action_and_staff_role_has_a_label():
    assert sorted(a for a in cards.OPERATOR_ACTIONS_BY_LEGAL_CARD if f"card.action.{a}" not in TEXTS) == []
    assert sorted(r for r in STAFF_ROLES if f"role.{r}" not in TEXTS) == []


def test_every_guide_label_and_topic_exists():
    path = Path(guide_render.__file__)
    used = set().union(*(_literal_keys(path, f) for f in ("section", "kv", "label")))
    assert "channels" in used and "default" in used
    assert sorted(k for k in used if f"guide.text.{k}" not in TEXTS) == []
    assert sorted(k for k in TOPICS if f"guide.topic.{k}" not in TEXTS) == []
    assert {k.removeprefix("guide.topic.") for k in TEXTS if k.startswith("guide.topic.")} == set(TOPICS)
