"""The public guide page names each rule's source by the document's title (依据：电子口岸制卡/变更/解锁/延期业务操作
指引), never by its seed file name; the file name is only the title's tooltip, for staff who check citations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import attrs
import pytest
from starlette.testclient import TestClient

from core.labels import label
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.services import Services
from core.web.app import create_app

REGIONS = [code for code, _ in BUILTIN_REGIONS]
SEED_NAME = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")


class Sources(HTMLParser):
    """The page's visible text, and each ``<p class="source">`` as (visible text, the attributes of its title)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.visible: list[str] = []
        self.sources: list[tuple[str, dict[str, str]]] = []
        self._in_source = False
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "p" and "source" in found.get("class", "").split():
            self._in_source = True
            self.sources.append(("", {}))
        if tag == "span" and "source-title" in found.get("class", "").split():
            self.sources[-1] = (self.sources[-1][0], found)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag == "p":
            self._in_source = False

    def handle_data(self, data):
        if self._skip:
            return
        self.visible.append(data)
        if self._in_source:
            text, cite = self.sources[-1]
            self.sources[-1] = (text + data, cite)


@pytest.fixture
def site(services: Services) -> Iterator[tuple[TestClient, Rulebook]]:
    """The public site with every built-in region enabled, and its rulebook."""
    rulebook = Rulebook(get_plugin_manager())
    with TestClient(create_app(attrs.evolve(services, rulebook=rulebook)), base_url="http://testserver") as client:
        yield client, rulebook


def test_every_guide_page_names_its_sources_by_title_in_both_languages(site):
    web_client, rulebook = site
    shown = 0
    for code in REGIONS:
        region = rulebook.region(code)
        for offer in rulebook.offers(code):
            for lang, colon in (("zh", "："), ("en", ": ")):
                page = Sources(web_client.get(f"/regions/{code}/{offer.business.value}?lang={lang}").text)
                assert not SEED_NAME.search(" ".join(page.visible)), (code, offer.business, lang)
                for text, cite in page.sources:
                    title = region.source_title(cite["title"])
                    assert title is not None, (code, offer.business, cite)  # the tooltip is a cited file
                    assert SEED_NAME.fullmatch(cite["title"]) and cite["data-source"] == cite["title"]
                    assert text == label("guide.text.source", lang) + colon + title.get(lang)
                    shown += 1
    assert shown > 4 * len(REGIONS)


def test_shenzhen_cites_its_guide_by_the_heading_the_document_gives(site):
    web_client, _ = site
    zh = Sources(web_client.get("/regions/shenzhen/unlock").text)
    assert ("依据：电子口岸制卡/变更/解锁/延期业务操作指引", {"class": "source-title",
            "title": "000_acc9b246733ddaa2.txt", "data-source": "000_acc9b246733ddaa2.txt"}) in zh.sources
    en = Sources(web_client.get("/regions/shenzhen/unlock?lang=en").text)
    assert "Source: E-Port card making / change / unlock / renewal: operating guide" in [t for t, _ in en.sources]
