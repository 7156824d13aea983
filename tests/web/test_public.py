"""Public pages in Chinese and English: regions, guides (same text as the CLI guide), outlets,
due-date calculator, progress query without personal data, health."""

from __future__ import annotations

from datetime import date

import attrs

from core.guide import build_guide, deadline, render_text
from core.model import Business
from core.samples import make_enrol
from core.services import Actor


def test_home_lists_enabled_regions_in_chinese_then_english(client, services):
    zh = client.get("/")
    assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text
    for region in services.rulebook.regions().values():
        assert region.name.zh in zh.text
    en = client.get("/?lang=en")
    assert 'lang="en"' in en.text and "Shenzhen" in en.text
    # The choice is remembered on the next page without the parameter.
    assert 'lang="en"' in client.get("/progress").text
    assert 'lang="zh-CN"' in client.get("/progress?lang=zh").text


def test_every_page_has_a_language_switch_and_a_phone_viewport(client):
    for path in ("/", "/regions/shenzhen", "/regions/shenzhen/enrol", "/due", "/progress", "/portal/login",
                 "/portal/register"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'hreflang="en"' in page.text and 'name="viewport"' in page.text, path


def test_region_page_shows_outlets_with_address_and_hours(client, services):
    page = client.get("/regions/shenzhen")
    for outlet in services.rulebook.outlets("shenzhen"):
        assert outlet.name.zh in page.text and outlet.address.zh in page.text
        if outlet.hours:
            assert outlet.hours.zh in page.text
    for offer in services.rulebook.offers("shenzhen"):
        assert f"/regions/shenzhen/{offer.business.value}" in page.text


def test_guide_page_has_the_same_content_as_the_cli_guide(client, services):
    """One Guide value, rendered as text by the CLI and as a page here (tests/web/test_guide_page.py has more)."""
    import html

    guide = build_guide(services.rulebook, services.calendar, "shenzhen", Business.ENROL, services.today())
    for lang in ("zh", "en"):
        page = html.unescape(client.get(f"/regions/shenzhen/enrol?lang={lang}").text)
        text = render_text(guide, lang)
        shown = [*(s.get(lang) for c in guide.offer.channels for s in c.steps), *(t.get(lang) for t in guide.what_you_do),
                 *(m.material.name.get(lang) for m in guide.materials), *(r.text.get(lang) for r in guide.requirements),
                 *(r.text.get(lang) for r in guide.readings), *(d.due.isoformat() for d in guide.due if d.due)]
        assert shown and all(item in text and item in page for item in shown)


def test_unknown_region_or_business_is_a_bilingual_404(client):
    page = client.get("/regions/atlantis")
    assert page.status_code == 404 and "atlantis" in page.text
    assert client.get("/regions/changchun/renew").status_code == 404
    assert "does not offer" in client.get("/regions/changchun/renew?lang=en").text


def test_due_date_calculator_matches_the_working_day_calendar(client, services):
    start = date(2026, 9, 30)  # straddles the National Day holiday
    rows = deadline(services.rulebook, services.calendar, "shenzhen", Business.ENROL, start)
    assert rows
    page = client.get(f"/due?region=shenzhen&business=enrol&start={start.isoformat()}")
    assert page.status_code == 200
    for d, day in rows:
        assert day.isoformat() in page.text and d.name.zh in page.text
    bad = client.get("/due?region=shenzhen&business=enrol&start=30-09-2026&lang=en")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_progress_query_needs_both_numbers_and_shows_no_personal_data(client, services):
    sample = make_enrol(5, "shenzhen")
    me = Actor(id="e", kind="enterprise", uscc=sample.enterprise.uscc)
    app = services.applications.create(attrs.evolve(sample, id=""), me)
    app = services.applications.submit(app.id, me)
    page = client.get(f"/progress?acceptance_no={app.acceptance_no}&uscc={app.enterprise.uscc}")
    assert page.status_code == 200 and app.acceptance_no in page.text and "已提交" in page.text
    for item in app.items:
        assert item.holder.id_number not in page.text and item.holder.name not in page.text
    wrong = client.get(f"/progress?acceptance_no={app.acceptance_no}&uscc=91440300MA0000009X")
    assert wrong.status_code == 404 and app.acceptance_no not in wrong.text.split("</form>")[-1]


def test_healthz_checks_the_database(client, services):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "regions": sorted(services.rulebook.regions())}
