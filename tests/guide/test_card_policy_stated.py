"""A card policy marks each rule the region does not state as a core default (Xi'an states no validity, and its
advice about five wrong PINs in one day is no retry limit)."""

from __future__ import annotations

from datetime import date

import pytest
from citations import assert_cited

from core.calendar import WorkCalendar
from core.guide.build import build_guide
from core.guide.render import render_text
from core.model import Business


@pytest.mark.parametrize(("region", "stated", "unstated", "source", "passage"), [
    ("xian", {"initial_pin"}, {"pin_retry_limit", "validity_years", "renewal_window_days"},
     "004_7ce9fda768e2b8de.txt", "IC卡的初始口令为8个8"),
    ("shenzhen", {"pin_retry_limit", "validity_years", "renewal_window_days"}, set(),
     "000_acc9b246733ddaa2.txt", "自制卡之日起，有效期十年"),
])
def test_stated_fields_come_from_the_region_toml(rulebook, region, stated, unstated, source, passage):
    assert_cited(source, passage)
    policy = rulebook.card_policy(region)
    assert stated <= set(policy.stated)
    assert not (unstated & set(policy.stated))


def test_guide_marks_unstated_card_rules_as_defaults(rulebook):
    text = render_text(build_guide(rulebook, WorkCalendar(), "xian", Business.RENEW, date(2026, 11, 23)), "en")
    line = next(ln for ln in text.splitlines() if ln.startswith("initial PIN"))
    assert "locked after 3 wrong PINs (core default);" in line
    assert "valid 10 years (core default)" in line and "before expiry (core default)" in line
    sz = render_text(build_guide(rulebook, WorkCalendar(), "shenzhen", Business.RENEW, date(2026, 11, 23)), "en")
    assert "core default" not in next(ln for ln in sz.splitlines() if ln.startswith("initial PIN"))


def test_the_five_wrong_pins_advice_is_worded_as_the_seed_does_and_no_lock_policy(rulebook):
    """Xi'an advises against five wrong PINs on one day; it states no retry limit, so none is shown as its rule."""
    passage = "友情提示：请尽量不要当天输入5次错误密码，否则将被锁定。"
    assert_cited("004_7ce9fda768e2b8de.txt", passage)
    policy = rulebook.card_policy("xian")
    assert "pin_retry_limit" not in policy.stated and policy.note and passage in policy.note.zh
    for business in (Business.UNLOCK, Business.RENEW, Business.ENROL):
        guide = build_guide(rulebook, WorkCalendar(), "xian", business, date(2026, 11, 23))
        zh, en = render_text(guide, "zh"), render_text(guide, "en")
        assert passage in zh and "try not to enter 5 wrong PINs on the same day" in en
        assert "连续输错 5 次" not in zh and "5 wrong PINs;" not in en and "after 5 wrong" not in en
        assert "连续输错 3 次锁卡（系统默认）" in zh
