"""The guide as a page an applicant can act on: real headings, lists and tables, links and tel: numbers,
materials by channel, the region's checks, readings beside their topic, an "apply online" button that opens
the portal on the business, the forms as PDFs (blank, or pre-filled for a logged-in enterprise, with the CJK
font embedded) and the due-date calculator on the same page. Every region and business, in both languages."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import attrs
import pytest
from guidekit import raw_codes
from starlette.testclient import TestClient
from webkit import PASSWORD, csrf_of

from core.guide.build import build_guide, offer_labels
from core.labels import label
from core.model import Business
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enterprise
from core.services import Services
from core.web.app import create_app

REGIONS = [code for code, _ in BUILTIN_REGIONS]
START = date(2026, 9, 30)  # the eve of the National Day holiday


class Page(HTMLParser):
    """The parts of a page a person meets: visible text, headings, links and form controls."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict[str, str]]] = []
        self._skip = 0
        self._heading: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.attrs.append((tag, found))
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("h1", "h2", "h3"):
            self._heading, self._heading_text = tag, ""
        if tag == "a" and "href" in found:
            self.links.append(found["href"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == self._heading:
            self.headings.append((tag, self._heading_text.strip()))
            self._heading = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._heading:
                self._heading_text += data

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())

    def with_attr(self, tag: str, name: str) -> list[dict[str, str]]:
        return [a for t, a in self.attrs if t == tag and name in a]


@pytest.fixture
def every_region(services: Services) -> Services:
    return attrs.evolve(services, rulebook=Rulebook(get_plugin_manager()))


@pytest.fixture
def web_client(every_region: Services) -> Iterator[TestClient]:
    with TestClient(create_app(every_region), base_url="http://testserver") as client:
        yield client


def offers(services: Services) -> Iterator[tuple[str, Business]]:
    for code in REGIONS:
        for offer in services.rulebook.offers(code):
            yield code, offer.business


def test_every_guide_is_a_page_with_headings_lists_and_tables(web_client, every_region):
    for code, business in offers(every_region):
        guide = build_guide(every_region.rulebook, every_region.calendar, code, business, every_region.today())
        for lang in ("zh", "en"):
            answer = web_client.get(f"/regions/{code}/{business.value}?lang={lang}")
            assert answer.status_code == 200, (code, business)
            page = Page(answer.text)
            assert ("h1", guide.business_name.get(lang)) in page.headings
            h2 = [text for tag, text in page.headings if tag == "h2"]
            for section in ("what_you_do", "contacts", "channels", "requirements", "materials", "timeframe"):
                assert label(f"guide.text.{section}", lang) in h2, (code, business, section)
            assert "ol" in page.tags and ("table" in page.tags or not guide.materials)
            assert not raw_codes(page.words, lang), (code, business, lang, raw_codes(page.words, lang))
            for requirement in guide.requirements:
                assert requirement.text.get(lang) in page.words
            for reading in guide.readings:
                assert reading.text.get(lang) in page.words and " ".join(reading.passage.split()) in page.words
            for topic in guide.silent:
                assert label(f"guide.topic.{topic}", lang) in page.words  # "the region's guide does not say ..."


def test_contacts_are_links_and_numbers_are_tel_links(web_client, every_region):
    page = Page(web_client.get("/regions/xian/unlock").text)
    for number in every_region.rulebook.region("xian").hotlines:
        assert f"tel:{number}" in page.links
    assert "mailto:kefu@xaeport.com" in page.links
    assert "tel:83196210" in page.links  # the service desk's phone, as the guide writes it
    shenzhen = Page(web_client.get("/regions/shenzhen/enrol").text)
    assert "http://www.szcpport.cn" in shenzhen.links  # the address as written, made clickable
    assert "tel:0755-95198" in shenzhen.links
    outlet = Page(web_client.get("/regions/xiamen/renew").text).words
    assert "厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅" in outlet and "上午8:30~12:00" in outlet


def test_materials_are_tables_by_channel_with_when_needed(web_client):
    html = web_client.get("/regions/xiamen/enrol").text
    post_part = html.split("仅以下渠道需要：")
    assert len(post_part) == 3  # paperless and paper each have a table of their own
    paperless, paper = post_part[1], post_part[2]
    assert "无纸化入网" in paperless.split("</h3>")[0] and "附件5" in paperless and "附件1" not in paperless
    assert "非无纸化入网" in paper.split("</h3>")[0] and "附件1" in paper and "附件2" in paper
    assert "何时需要" in html and "必须提供" in html


def test_apply_online_opens_the_portal_on_the_region_and_business(web_client):
    page = Page(web_client.get("/regions/shenzhen/add_card").text)
    (button,) = [a for a in page.with_attr("a", "data-apply")]
    target = urlsplit(button["href"])
    assert target.path == "/portal/apps/new"
    assert parse_qs(target.query) == {"region": ["shenzhen"], "business": ["add_card"]}
    assert "在线办理" in page.words and "Apply online" in Page(web_client.get("/regions/shenzhen/add_card?lang=en")
                                                               .text).words


def login_enterprise(client: TestClient, services: Services, n: int = 4, region: str = "shenzhen"):
    enterprise = make_enterprise(n, region)
    services.accounts.register_enterprise(enterprise, f"guide{n}", PASSWORD, region=region, display_name="管理员",
                                          mobile="13800000000")
    token = csrf_of(client, "/portal/login")
    answer = client.post("/portal/login", data={"csrf_token": token, "username": f"guide{n}", "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return enterprise


def test_the_portal_page_the_button_opens_has_the_business_chosen(web_client, every_region):
    login_enterprise(web_client, every_region)
    page = Page(web_client.get("/portal/apps/new?region=shenzhen&business=enrol").text)
    checked = [a["value"] for a in page.with_attr("input", "checked") if a.get("name") == "business"]
    assert checked == ["enrol"]
    names = offer_labels(every_region.rulebook.offers("shenzhen"))
    for name in names.values():
        assert page.words.count(name.zh) >= 1
    assert page.words.count("新增/补办卡（新增操作员卡）") == 1 and page.words.count("新增/补办卡（补办）") == 1
    other = Page(web_client.get("/portal/apps/new?region=xiamen&business=enrol").text)
    assert "您查看的是其他分中心的指南" in other.words


def pdf_text(content: bytes, tmp_path: Path, name: str) -> tuple[str, str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return text, fonts


def form_links(client: TestClient, region: str, business: str) -> list[str]:
    return [a["href"] for a in Page(client.get(f"/regions/{region}/{business}").text).with_attr("a", "download")]


@pytest.mark.parametrize(("region", "business", "codes"), [
    ("xiamen", "enrol", ["附件1", "附件2", "附件5", "附件6"]),
    ("xiamen", "deregister", ["附件1", "附件4"]),
    ("xiamen", "change_enterprise", ["附件1", "附件2", "附件3"]),
    ("shenzhen", "enrol", ["回执"]),
])
def test_each_form_the_seed_names_downloads_blank_with_the_cjk_font_embedded(web_client, every_region, tmp_path,
                                                                             region, business, codes):
    links = form_links(web_client, region, business)
    assert [re.sub(r"^.*/forms/(.*)\.pdf$", r"\1", link) for link in links] == [quote(c, safe="") for c in codes]
    for code, link in zip(codes, links, strict=True):
        answer = web_client.get(link)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF-") and "attachment" in answer.headers["content-disposition"]
        text, fonts = pdf_text(answer.content, tmp_path, code)
        form = next(f for f in every_region.rulebook.forms(region, Business(business)) if f.code == code)
        assert form.title.zh in text and "空白表格" in text
        title = every_region.rulebook.region(region).source_title(form.source)
        assert title is not None and title.zh in " ".join(text.split())  # the document cited, by its title
        assert form.source not in text  # not its file name
        assert "WenQuanYi" in fonts and re.search(r"WenQuanYi\S*\s+TrueType\s+\S+\s+yes", fonts), fonts
        for field in form.fields:
            assert field.label.zh in text


def test_a_logged_in_enterprise_downloads_its_forms_pre_filled(web_client, every_region, tmp_path):
    enterprise = login_enterprise(web_client, every_region, n=5, region="xiamen")
    link = form_links(web_client, "xiamen", "enrol")[0]
    answer = web_client.get(link)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "private, no-store"
    text, _ = pdf_text(answer.content, tmp_path, "filled")
    assert enterprise.name in text and enterprise.uscc in text and "已按" in text
    assert enterprise.legal_rep.id_number not in text  # identity numbers stay blank (pages show them masked)
    power = web_client.get(form_links(web_client, "xiamen", "enrol")[2])  # 附件5: the legal rep's name and phone
    text, _ = pdf_text(power.content, tmp_path, "power")
    assert enterprise.legal_rep.name in text and enterprise.legal_rep.phone in text
    page = Page(web_client.get("/regions/xiamen/enrol").text)
    assert "已按您单位登记的信息预填" in page.words


def test_an_unknown_form_is_a_bilingual_404(web_client):
    answer = web_client.get("/regions/xiamen/enrol/forms/%E9%99%84%E4%BB%B69.pdf")
    assert answer.status_code == 404 and "附件9" in answer.text and "附件1" in answer.text
    assert "has no form" in web_client.get("/regions/xiamen/enrol/forms/x.pdf?lang=en").text


def test_the_calculator_lists_the_chosen_regions_businesses_and_answers_on_the_guide(web_client, every_region):
    page = Page(web_client.get("/regions/xian/enrol").text)
    (region_select,) = page.with_attr("select", "data-businesses")
    listed = json.loads(region_select["data-businesses"])
    assert set(listed) == set(REGIONS)
    for code in REGIONS:
        names = offer_labels(every_region.rulebook.offers(code))
        assert [row[0] for row in listed[code]] == [b.value for b in names]
        assert [row[1] for row in listed[code]] == [n.zh for n in names.values()]
        assert len({row[1] for row in listed[code]}) == len(listed[code])  # no label twice
    business_options = [a["value"] for t, a in page.attrs if t == "option" and "value" in a
                        and a["value"] in {b.value for b in Business}]
    assert business_options == [b.value for b in names_of(every_region, "xian")]
    answer = web_client.get(f"/due?view=guide&region=xian&business=enrol&start={START.isoformat()}&lang=zh",
                            follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/regions/xian/enrol?start={START.isoformat()}&lang=zh#timeframe"
    dated = Page(web_client.get(answer.headers["location"]).text).words
    assert f"若于 {START.isoformat()} 提交/受理，预计" in dated
    assert "2026-10-08 ~ 2026-10-09" in dated  # the E-Port review, after the National Day holiday
    assert "日期取决于该步骤何时完成" in dated  # card making waits for the mail request


def names_of(services: Services, region: str) -> list[Business]:
    return list(offer_labels(services.rulebook.offers(region)))


def test_a_bad_start_date_or_business_is_refused_bilingually(web_client):
    bad = web_client.get("/regions/xian/enrol?start=30-09-2026&lang=en")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    wrong = web_client.get("/due?view=guide&region=changchun&business=renew&start=2026-09-30&lang=en")
    assert wrong.status_code == 400 and "does not offer" in wrong.text


def test_region_and_due_pages_name_no_business_twice(web_client):
    for path in ("/regions/shenzhen", "/due?region=shenzhen"):
        words = Page(web_client.get(path).text).words
        assert words.count("新增/补办卡（新增操作员卡）") == 1 and words.count("新增/补办卡（补办）") == 1
        assert words.count("证书更新/解锁（证书更新）") == 1 and words.count("证书更新/解锁（解锁）") == 1
