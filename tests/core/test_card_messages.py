"""What a person reads when a card cannot do something: the card's state by its label, never its code, and
English counts that agree in number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.cards import check_self_renewal, transition
from core.errors import RuleViolation, TransitionError
from core.labels import label
from core.model import Card, CardKind, CardState, CertificateRef, Person
from core.rules import CardPolicy

NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)


def _card(state: CardState, expires_in: timedelta) -> Card:
    cert = CertificateRef(serial="01", not_before=NOW - timedelta(days=3000), not_after=NOW + expires_in)
    return Card(id="c1", enterprise_uscc="91440300MA5EXAMPLA", kind=CardKind.LEGAL,
                holder=Person(name="张三", id_number="440300199001010011"), state=state, certificate=cert)


def test_a_card_in_the_wrong_state_is_named_by_its_label():
    frozen = _card(CardState.FROZEN, timedelta(days=30))
    with pytest.raises(TransitionError) as moving:
        transition(frozen, "issue", "clerk", NOW)
    with pytest.raises(RuleViolation) as renewing:
        check_self_renewal(frozen, NOW, CardPolicy())
    for refused in (moving.value, renewing.value):
        assert label(CardState.FROZEN) in refused.zh and CardState.FROZEN.value not in refused.zh
    assert f"a {label(CardState.FROZEN, 'en')} card" in renewing.value.en


@pytest.mark.parametrize(("left", "window", "words"), [
    (timedelta(days=1, hours=2), 0, "the certificate expires in 1 day; renewal opens 0 days before"),
    (timedelta(days=2, hours=2), 1, "the certificate expires in 2 days; renewal opens 1 day before"),
])
def test_too_early_to_renew_counts_days_in_good_english(left, window, words):
    with pytest.raises(RuleViolation) as caught:
        check_self_renewal(_card(CardState.ACTIVE, left), NOW, CardPolicy(renewal_window_days=window))
    assert caught.value.en.startswith(words), caught.value.en
