"""One guide per region in real Chromium, in Chinese and English, on a desktop and 390 px wide.

Each page: axe-core (axe-playwright-python's script) finds no serious or critical violation, nothing scrolls
sideways at 390 px, and a screenshot is saved for each language and width ($EPORTCARD_GUIDE_SHOTS or the
test's tmp folder; the path is printed). The calculator's business list follows the region chosen (the
page's script), its answer lands on the guide dated from the chosen day, "在线办理" opens the portal's login
on the way to the business, and a form downloads as a PDF. Debian's chromium; without it this FAILS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from axe_playwright_python.base import AXE_SCRIPT
from browserkit import serving
from playwright.sync_api import Browser, Page

from core.guide.build import offer_labels
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import Services
from core.web.app import create_app

pytestmark = pytest.mark.browser

SHOTS_ENV = "EPORTCARD_GUIDE_SHOTS"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
GUIDES = [("shenzhen", "enrol"), ("changchun", "enrol"), ("xiamen", "enrol"), ("hangzhou", "change_holder"),
          ("xian", "enrol")]


@pytest.fixture
def shots(tmp_path: Path, capsys) -> Iterator[Path]:
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path / "guide-shots")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    with capsys.disabled():
        print(f"\nguide page screenshots: {folder}")


@pytest.fixture
def site(services: Services) -> Iterator[tuple[str, Services]]:
    every = attrs.evolve(services, rulebook=Rulebook(get_plugin_manager()))
    with serving(create_app(every)) as base:
        yield base, every


def _serious(page: Page) -> list[str]:
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['help']}) at {v['nodes'][0]['target']}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def test_one_guide_per_region_in_both_languages_on_desktop_and_phone(site, browser: Browser, shots: Path):
    base, services = site
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(AXE_SCRIPT)
    page = context.new_page()
    taken = []
    for region, business in GUIDES:
        for lang in ("zh", "en"):
            page.set_viewport_size(DESKTOP)
            page.goto(f"{base}/regions/{region}/{business}?lang={lang}&start=2026-09-30")
            name = offer_labels(services.rulebook.offers(region))[services.rulebook.offer(region, business)
                                                                  .business].get(lang)
            assert page.locator("h1").inner_text() == name
            assert page.locator("section#requirements h2").is_visible()
            assert not _serious(page), (region, lang, _serious(page))
            for width, size in (("desktop", DESKTOP), ("390", PHONE)):
                page.set_viewport_size(size)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= size["width"] + 1, f"{region} {lang}: {wide} px wide at {size['width']} px"
                path = shots / f"guide-{region}-{business}-{lang}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                taken.append(path)
    assert len(taken) == 20 and all(p.stat().st_size > 10_000 for p in taken)


def test_the_calculator_follows_the_region_and_answers_on_the_guide(site, browser: Browser, shots: Path):
    base, services = site
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{base}/regions/shenzhen/enrol?lang=zh")
    options = page.locator("#calc-business option")
    assert options.all_inner_texts() == [n.zh for n in offer_labels(services.rulebook.offers("shenzhen")).values()]
    page.select_option("#calc-region", "xian")
    assert options.all_inner_texts() == [n.zh for n in offer_labels(services.rulebook.offers("xian")).values()]
    page.select_option("#calc-business", "enrol")
    page.fill("#calc-start", "2026-09-30")
    page.click("#calculator button[type=submit]")
    page.wait_for_url(re.compile(r"/regions/xian/enrol\?start=2026-09-30"))
    due = page.locator("table.due").inner_text()
    assert "2026-10-08 ~ 2026-10-09" in due and "日期取决于该步骤何时完成" in due
    page.screenshot(path=str(shots / "guide-calculator-xian.png"), full_page=True)


def test_apply_online_and_a_form_download_from_the_page(site, browser: Browser):
    base, _services = site
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{base}/regions/xiamen/enrol?lang=zh")
    link = page.locator("a.download").first.get_attribute("href")
    assert link is not None
    answer = page.request.get(f"{base}{link}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")
    page.click("a[data-apply]")
    page.wait_for_url(re.compile(r"/portal/login"))
    # after the login the portal opens on the guide's region and business
    assert page.url.endswith("/portal/login?next=/portal/apps/new%3Fregion%3Dxiamen%26business%3Denrol"), page.url
    assert page.locator("input[name=next]").get_attribute("value") == "/portal/apps/new?region=xiamen&business=enrol"
