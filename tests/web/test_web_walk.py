"""Each role's day in real Chromium, every page checked as a person and a screen reader meet it.

The walk: an enterprise registers (SMS code, agreement, its administrator's details), applies for
enrolment with an operator card and cards by post, passes the data check ("确认无误") and submits; the
reviewer opens on "to review", accepts and returns it with a reason; the enterprise logs in to a pop-up
naming the reason, corrects and resubmits; the reviewer accepts; the card maker (opening on "to make")
makes the cards and completes; the counter clerk (opening on "to hand over") hands another enterprise's
cards over at the counter, prints the day's mailing list and address labels, ships with a tracking number
and confirms delivery; the branch administrator adds a staff member (every problem at once, then right)
and disables one; a permission refusal and a missing page read plainly.

Every page visited, in Chinese and in English: axe-core (from axe-playwright-python, injected by
Playwright) finds no serious or critical violation; no raw code (snake_case identifiers, enum values,
internal hex ids) shows; a Chinese page has no ASCII punctuation between Chinese characters and an
English page no Chinese label left from the catalogue or the region's data; at 390 px nothing scrolls
sideways. Screenshots, desktop and 390 px wide, go to $EPORTCARD_WALK_SHOTS or the test's tmp folder
(the path is printed). Debian's chromium; without it this FAILS (tests/web/conftest.py).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import pytest
from axe_playwright_python.base import AXE_SCRIPT
from browserkit import screenshot_folder, serving
from playwright.sync_api import Browser, BrowserContext, Page, expect
from webkit import PASSWORD, PNG, registration

from core import lifecycle
from core.labels import ENUM_LABELS, TEXTS
from core.model import AppState, Business, Delivery, Pickup
from core.samples import make_enrol, make_person
from core.services import Actor, Services
from core.services.accounts import REGISTER_PURPOSE, create_user
from core.services.actors import STAFF_ROLES
from core.services.applications import STAFF_ACTIONS
from core.store.accounts import SmsOutbox
from core.web.app import create_app

pytestmark = pytest.mark.browser

SHOTS_ENV = "EPORTCARD_WALK_SHOTS"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BAD_IMPACTS = ("serious", "critical")
HEX_ID = re.compile(r"\b[0-9a-f]{16}\b")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
ASCII_IN_CHINESE = re.compile(r"[\u4e00-\u9fff]\s?[:;,!?()]\s?[\u4e00-\u9fff]")
SYSTEM = Actor.system("walk")
# Staff whose names are no code of the system (a username shows in the history).
STAFF = {"zhang": "reviewer", "liu": "card_maker", "wang": "counter_clerk", "zhao": "branch_admin"}


def _codes(services: Services) -> set[str]:
    """Every identifier the system uses that a person should never read."""
    codes = {str(member.value) for table in ENUM_LABELS.values() for member in table}
    codes |= set(STAFF_ACTIONS) | set(STAFF_ROLES) | {q.code for q in lifecycle.WORK_QUEUES}
    codes |= {"submit", "resubmit", "withdraw", "create", "edit", "attach", "delete", "personalize"}
    rules = services.rulebook
    for region in rules.regions():
        codes.add(region)
        codes |= {o.code for o in rules.outlets(region)}
        for business in Business:
            codes |= {m.code for m in rules.materials(region, business)}
    return {c for c in codes if c.islower()}


def _chinese_labels(services: Services) -> set[str]:
    """Chinese a page in English must not show: the catalogue's and the region's own words."""
    found = {zh for zh, _en in TEXTS.values()} | {zh for table in ENUM_LABELS.values() for zh, _en in table.values()}
    rules = services.rulebook
    for region in rules.regions():
        for outlet in rules.outlets(region):
            found.add(outlet.name.zh)
        for business in Business:
            materials = rules.materials(region, business)
            found |= {m.name.zh for m in materials} | {m.template for m in materials if m.template}
    return {text.strip() for text in found if len(text.strip()) >= 2 and re.search(r"[\u4e00-\u9fff]", text)}


def _with_lang(url: str, lang: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"] + [("lang", lang)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@attrs.define
class Walk:
    """Checks each page it is shown and keeps every finding (the test fails on them at the end)."""

    shots: Path
    codes: set[str]
    chinese: set[str]
    findings: list[str] = attrs.Factory(list)
    pages: list[str] = attrs.Factory(list)

    def look(self, page: Page, name: str, *, reload: bool = True) -> None:
        """The page as it is now, in both languages (``reload``: load it again in each; otherwise only
        the state on screen, e.g. a form with its errors, is checked, in its language)."""
        url = page.url
        langs = ("zh", "en") if reload else (page.evaluate("document.documentElement.lang").split("-")[0],)
        for lang in langs:
            if reload:
                page.goto(_with_lang(url, lang))
            self._check(page, f"{name}-{lang}", lang)
        if reload:
            page.goto(_with_lang(url, "zh"))

    def _check(self, page: Page, name: str, lang: str) -> None:
        self.pages.append(name)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        assert result["testEngine"]["name"] == "axe-core" and result["url"].startswith("http")
        for v in result["violations"]:
            if v["impact"] in BAD_IMPACTS:
                where = "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                                  for n in v["nodes"][:3])
                self.findings.append(f"{name}: axe {v['impact']} {v['id']} ({v['help']}) at {where}")
        text = page.evaluate("document.body.innerText")
        for token in sorted(set(SNAKE.findall(text)) | set(HEX_ID.findall(text))):
            self.findings.append(f"{name}: raw code {token!r}")
        if lang == "zh":
            for token in sorted({w for w in WORD.findall(text) if w in self.codes}):
                self.findings.append(f"{name}: raw code {token!r}")
            for hit in sorted(set(ASCII_IN_CHINESE.findall(text))):
                self.findings.append(f"{name}: ASCII punctuation in Chinese {hit!r}")
        else:
            nodes = page.evaluate("""() => { const out = []; const walker = document.createTreeWalker(
                document.body, NodeFilter.SHOW_TEXT); while (walker.nextNode()) { const t = walker.currentNode;
                if (/[\\u4e00-\\u9fff]/.test(t.textContent) && t.parentElement.closest('[hidden]') === null)
                out.push(t.textContent.trim()); } return out; }""")
            for node in nodes:
                left = sorted(zh for zh in self.chinese if zh in node)
                if left:
                    self.findings.append(f"{name}: Chinese left on the English page {left[:3]} in {node[:60]!r}")
        page.screenshot(path=str(self.shots / f"{len(self.pages):03d}-{name}.png"), full_page=True)
        if lang == "zh":
            page.set_viewport_size(PHONE)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > PHONE["width"] + 1:
                self.findings.append(f"{name}: at 390 px the page is {wide} px wide (scrolls sideways)")
            page.screenshot(path=str(self.shots / f"{len(self.pages):03d}-{name}-390.png"), full_page=True)
            page.set_viewport_size(DESKTOP)


@pytest.fixture
def shots(tmp_path: Path, capsys) -> Iterator[Path]:
    folder = screenshot_folder(SHOTS_ENV, tmp_path / "walk")
    yield folder
    with capsys.disabled():
        print(f"\nweb walk screenshots: {folder}")


def _context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    context.add_init_script(AXE_SCRIPT)  # axe-core in every page, before the page's own scripts
    return context


def _sms(services: Services, purpose: str, mobile: str) -> str:
    """The code the development gateway 'sent' (the phone in this story is the outbox table)."""
    with services.store.transaction(readonly=True) as tx:
        sent = SmsOutbox(tx).latest(purpose, mobile)
    assert sent is not None
    match = re.search(r"验证码为(\d{6})", sent.text)
    assert match
    return match.group(1)


def _staff_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("#staff-login-submit")
    page.wait_for_url(re.compile(r"/staff(\?.*)?$"))


def _enterprise_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/portal/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.check("#f-agree")
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/portal$"))


def _act(page: Page, action: str, **fields: str) -> None:
    """Fill one action form of the staff detail page and send it; lands on the outcome."""
    form = page.locator(f"#action-{action}")
    for name, value in fields.items():
        target = form.locator(f'[name="{name}"]')
        if name == "reasons":
            form.locator(f'input[value="{value}"]').check()
        elif name == "confirm":
            target.check()
        elif target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    with page.expect_navigation():
        form.locator('button[type="submit"]').click()
    assert f"done={action}" in page.url, page.locator("#error-summary").all_inner_texts()


def _completed_at_the_counter(services: Services) -> str:
    """Another enterprise's enrolment, made and completed, waiting at the counter (set up directly)."""
    svc = services.applications
    sample = make_enrol(7, "shenzhen")
    owner = Actor(id="ent7", kind="enterprise", uscc=sample.enterprise.uscc)
    app = svc.create(attrs.evolve(sample, id="", pickup=attrs.evolve(sample.pickup, outlet="shenzhen_east_hall"),
                                  created_at=None), owner)
    for move in ("submit", "accept", "start_production"):
        app = getattr(svc, move)(app.id, owner if move == "submit" else SYSTEM)
    for index in lifecycle.unmade_items(app):
        app = svc.mark_made(app.id, index, SYSTEM)
    return svc.complete(app.id, SYSTEM).id


def _pdf_text(page: Page, url: str, folder: Path, name: str) -> tuple[str, int]:
    """The PDF at ``url`` (fetched with the page's session) as text, and how many images it holds."""
    answer = page.request.get(url)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    path = folder / name
    path.write_bytes(answer.body())
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    images = subprocess.run(["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True).stdout
    return text, len(images.splitlines()) - 2  # two header lines


def test_each_roles_day_in_chromium(services: Services, browser: Browser, shots: Path, tmp_path: Path):
    for username, role in STAFF.items():
        create_user(services, username, PASSWORD, "staff", region="shenzhen", roles=[role],
                    display_name=username)
    counter_app = _completed_at_the_counter(services)
    walk = Walk(shots=shots, codes=_codes(services), chinese=_chinese_labels(services))
    with serving(create_app(services)) as base:
        _walk(walk, services, browser, base, counter_app, tmp_path)
    assert len(walk.pages) >= 40
    assert not walk.findings, "\n".join(walk.findings)


def _walk(walk: Walk, services: Services, browser: Browser, base: str, counter_app: str, tmp_path: Path) -> None:
    # ---- the enterprise registers: a mistake is marked beside its field, then the SMS code and the agreement
    ent = _context(browser).new_page()
    ent.goto(f"{base}/")
    walk.look(ent, "home")
    ent.goto(f"{base}/portal/register")
    walk.look(ent, "register")
    form = registration(1) | {"username": "acme", "mobile": "13800000001"}
    for key, value in form.items():
        if key in ("agree", "sms_code"):
            continue
        field = ent.locator(f'[name="{key}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    ent.fill("#f-email", "not-an-address")  # the browser would stop type=email; the server's check is shown
    ent.evaluate("document.getElementById('register-form').noValidate = true")
    ent.click("#register-submit")
    expect(ent.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    expect(ent.locator("#f-email")).to_have_attribute("aria-describedby", "err-email")
    expect(ent.locator("#err-email")).to_contain_text("电子邮箱")
    expect(ent.locator('#error-summary a[href="#f-agree"]')).to_be_visible()
    assert ent.locator("#f-uscc").get_attribute("maxlength") == "18"  # attributes arrive unescaped
    assert ent.locator("#f-mobile").get_attribute("inputmode") == "numeric"
    walk.look(ent, "register-errors", reload=False)
    ent.fill("#f-email", "admin@example.com")
    ent.click("#register-send-code")
    expect(ent.locator(".notice")).to_contain_text("138****0001")
    walk.look(ent, "register-code-sent", reload=False)
    ent.fill("#f-sms_code", _sms(services, REGISTER_PURPOSE, "13800000001"))
    ent.fill("#f-password", PASSWORD)
    ent.fill("#f-password2", PASSWORD)
    ent.check("#f-agree")
    ent.click("#register-submit")
    ent.wait_for_url(re.compile(r"/portal/login\?registered=1"))
    walk.look(ent, "login")
    _enterprise_login(ent, base, "acme")
    walk.look(ent, "dashboard")

    # ---- the application: operator cards asked for, cards by post, the data check, the code, submission
    ent.goto(f"{base}/portal/apps/new")
    walk.look(ent, "new-application")
    ent.check('input[name="business"][value="enrol"]')
    ent.click('form[action="/portal/apps/new"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/enterprise"))
    app_id = ent.url.split("/")[5]
    assert app_id not in ent.title() and "新入网" in ent.title()  # a draft is named by business and date
    expect(ent.locator('[aria-current="step"]')).to_contain_text("单位信息")
    walk.look(ent, "step-enterprise")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/legal"))
    walk.look(ent, "step-legal")
    ent.fill("#f-legal\\.phone", "13900000001")
    ent.select_option("#f-legal\\.medium", "usb_key")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/operators"))
    expect(ent.locator("#operators-skip")).to_have_text("暂不需要，继续")
    walk.look(ent, "step-operators-ask")
    ent.click("#operators-yes")
    operator = make_person(2, "440304")
    for key, value in {"holder.name": operator.name, "holder.id_number": operator.id_number,
                       "holder.id_valid_from": "20200101", "holder.id_valid_to": "00000000",
                       "holder.phone": operator.phone}.items():
        ent.fill(f'[name="{key}"]', value)
    ent.click('button[name="op"][value="save_row"]')
    ent.locator('button[name="op"][value^="confirm:"]').first.click()
    ent.wait_for_load_state()
    walk.look(ent, "step-operators")
    ent.goto(f"{base}/portal/apps/{app_id}/step/agent")
    ent.check('input[name="agent"][value="legal_rep"]')
    ent.fill("#f-agent_phone", "13900000001")
    walk.look(ent, "step-agent", reload=False)
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/pickup"))
    ent.check('input[name="method"][value="mail"]')
    ent.fill("#f-recipient", "陈收件")
    ent.fill("#f-mail_phone", "13700000007")
    ent.fill("#f-mail_address", "广东省深圳市福田区收件路8号")
    ent.select_option("#f-making_centre", "shenzhen_east_hall")
    walk.look(ent, "step-pickup", reload=False)
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/uploads"))
    upload = tmp_path / "licence.png"
    upload.write_bytes(PNG)
    ent.set_input_files('input[name="file"]', str(upload))
    ent.click('form[enctype="multipart/form-data"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/uploads\?saved=1"))
    walk.look(ent, "step-uploads")
    ent.goto(f"{base}/portal/apps/{app_id}/step/preview")
    expect(ent.locator("#check-mail-to")).to_contain_text("广东省深圳市福田区收件路8号")  # seen before submitting
    assert ent.locator("#submit-form").count() == 0  # the data check comes first
    walk.look(ent, "preview-check")
    ent.click("#check-confirm")
    ent.wait_for_url(re.compile(r"checked=1"))
    walk.look(ent, "preview-confirmed")
    _submit(ent, services, app_id)
    number = ent.locator(".acceptance-no").inner_text().strip()
    assert re.fullmatch(r"WSZ\d{7}", number)
    assert number in ent.title()
    walk.look(ent, "submitted")

    # ---- the reviewer opens on the work to review, accepts, then returns it with a reason
    reviewer = _context(browser).new_page()
    _staff_login(reviewer, base, "zhang")
    expect(reviewer.locator('#queue-tabs a[aria-current="page"]')).to_have_attribute("data-queue", "review")
    expect(reviewer.locator('#queue-tabs a[data-queue="review"] .count')).to_have_text("1")
    walk.look(reviewer, "reviewer-queue")
    reviewer.click(f'tr[data-app-id="{app_id}"] a')
    assert number in reviewer.title()
    walk.look(reviewer, "reviewer-detail")
    _act(reviewer, "accept")
    expect(reviewer.locator("#done")).to_have_text(f"已受理 {number}")
    walk.look(reviewer, "reviewer-accepted")
    before = reviewer.url
    reviewer.locator("#action-reject").locator('button[type="submit"]').click()  # no reason, no tick
    assert reviewer.url == before  # the browser asks for the tick first: nothing was sent
    _act(reviewer, "reject", reasons="materials_incomplete", note="执照照片不清晰", confirm="yes")
    walk.look(reviewer, "reviewer-returned")

    # ---- the enterprise logs in to a pop-up with the reason, corrects and resubmits
    ent.context.clear_cookies()
    _enterprise_login(ent, base, "acme")
    dialog = ent.locator("#returned-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("执照照片不清晰")
    walk.look(ent, "returned-popup", reload=False)
    ent.click("#returned-close")
    expect(dialog).to_be_hidden()
    ent.goto(f"{base}/portal/apps/{app_id}")
    walk.look(ent, "returned-detail")
    ent.goto(f"{base}/portal/apps/{app_id}/step/uploads")
    ent.set_input_files('input[name="file"]', str(upload))
    ent.click('form[enctype="multipart/form-data"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/uploads\?saved=1"))
    ent.goto(f"{base}/portal/apps/{app_id}/step/preview")
    ent.click("#check-confirm")
    ent.wait_for_url(re.compile(r"checked=1"))
    _submit(ent, services, app_id)
    assert ent.locator(".acceptance-no").inner_text().strip() == number
    ent.goto(f"{base}/portal?state=submitted")
    expect(ent.locator(f'tr[data-app-id="{app_id}"]')).to_be_visible()
    walk.look(ent, "dashboard-filtered")
    reviewer.goto(f"{base}/staff/apps/{app_id}")
    _act(reviewer, "accept")

    # ---- the card maker opens on the work to make, makes the cards and completes
    maker = _context(browser).new_page()
    _staff_login(maker, base, "liu")
    expect(maker.locator('#queue-tabs a[aria-current="page"]')).to_have_attribute("data-queue", "make")
    walk.look(maker, "maker-queue")
    maker.goto(f"{base}/staff/apps/{app_id}")
    _act(maker, "start_production")
    while maker.locator("#action-make").count():
        _act(maker, "make", item=maker.locator("#action-make select option").first.get_attribute("value") or "")
    walk.look(maker, "maker-made")
    _act(maker, "complete", confirm="yes")
    expect(maker.locator("#done")).to_have_text(f"已办结 {number}")
    walk.look(maker, "maker-completed")

    # ---- the counter clerk: a hand-over at the counter, the day's mailings with labels, shipping, delivery
    clerk = _context(browser).new_page()
    _staff_login(clerk, base, "wang")
    expect(clerk.locator('#queue-tabs a[aria-current="page"]')).to_have_attribute("data-queue", "hand_over")
    expect(clerk.locator(f'tr[data-app-id="{counter_app}"] .delivery')).to_have_text("已办结，待领取")
    walk.look(clerk, "clerk-hand-over-queue")
    counter_number = services.applications.get(counter_app, SYSTEM).acceptance_no
    clerk.click(f'tr[data-app-id="{counter_app}"] a')
    walk.look(clerk, "clerk-counter-detail")
    _act(clerk, "hand_over", acceptance_no=counter_number)
    walk.look(clerk, "clerk-handed-over")
    clerk.goto(f"{base}/staff?queue=mail")
    expect(clerk.locator(f'tr[data-app-id="{app_id}"] .delivery')).to_have_text("已办结，待寄出")
    walk.look(clerk, "clerk-mail-queue")
    clerk.click("#staff-mailings-link")
    row = clerk.locator(f'#mailings tr[data-app-id="{app_id}"]')
    expect(row.locator(".recipient")).to_have_text("陈收件")
    expect(row.locator(".phone")).to_have_text("13700000007")
    expect(row.locator(".address")).to_have_text("广东省深圳市福田区收件路8号")
    walk.look(clerk, "clerk-mailings")
    listing, _ = _pdf_text(clerk, f"{base}/staff/mailings/list.pdf", tmp_path, "list.pdf")
    assert number in listing and "13700000007" in listing and "陈收件" in listing
    labels, images = _pdf_text(clerk, f"{base}/staff/mailings/labels.pdf", tmp_path, "labels.pdf")
    assert number in labels and "广东省深圳市福田区收件路8号" in labels and images == 1  # one QR code a label
    clerk.goto(f"{base}/staff/apps/{app_id}")
    expect(clerk.locator("#mail-address")).to_have_text("广东省深圳市福田区收件路8号")
    walk.look(clerk, "clerk-mail-detail")
    _act(clerk, "ship", tracking_no="SF1234567890")
    expect(clerk.locator("#done")).to_have_text(f"{number} 已寄出")
    expect(clerk.locator('#history li[data-action="ship"]')).to_contain_text("已办结，待寄出 → 已寄出")
    walk.look(clerk, "clerk-shipped")
    clerk.goto(f"{base}/staff?queue=shipped")
    walk.look(clerk, "clerk-shipped-queue")
    clerk.goto(f"{base}/staff/apps/{app_id}")
    _act(clerk, "deliver", confirm="yes")
    done = services.applications.get(app_id, SYSTEM)
    assert done.state is AppState.COMPLETED and done.delivery is Delivery.DELIVERED
    assert done.pickup.method is Pickup.MAIL
    clerk.goto(f"{base}/staff?queue=done")
    walk.look(clerk, "clerk-done-queue")
    clerk.goto(f"{base}/staff/accounts")  # not a branch administrator: said plainly
    expect(clerk.locator("h1")).to_have_text("无权访问")
    walk.look(clerk, "forbidden", reload=False)
    clerk.goto(f"{base}/staff/nowhere-at-all")
    expect(clerk.locator("h1")).to_have_text("找不到")
    walk.look(clerk, "not-found")

    # ---- the branch administrator: the whole branch, staff accounts (all problems at once), a disable
    admin = _context(browser).new_page()
    _staff_login(admin, base, "zhao")
    expect(admin.locator('#queue-tabs a[aria-current="page"]')).to_have_attribute("data-queue", "open")
    walk.look(admin, "admin-queue")
    admin.click("#staff-accounts-link")
    walk.look(admin, "admin-accounts")
    admin.fill("#f-username", "x")
    admin.fill("#f-password", "short")
    admin.click("#add-staff-submit")
    for field in ("username", "password", "roles"):
        expect(admin.locator(f"#err-{field}")).to_be_visible()
    walk.look(admin, "admin-accounts-errors", reload=False)
    admin.fill("#f-username", "sun")
    admin.fill("#f-display_name", "孙")
    admin.fill("#f-password", PASSWORD)
    admin.check('#add-staff input[name="roles"][value="reviewer"]')
    admin.click("#add-staff-submit")
    row = admin.locator('tr[data-username="sun"]')
    expect(row).to_have_attribute("data-status", "active")
    row.locator("#confirm-disable-sun").check()
    row.locator('form[action$="/disable"] button').click()
    expect(admin.locator('tr[data-username="sun"]')).to_have_attribute("data-status", "disabled")
    walk.look(admin, "admin-accounts-disabled")

    # ---- the enterprise's records at the end of the day
    ent.goto(f"{base}/portal/apps/{app_id}")
    expect(ent.locator("#delivery")).to_have_text("已送达")
    expect(ent.locator('#history li[data-action="deliver"]')).to_contain_text("已寄出 → 已送达")
    walk.look(ent, "enterprise-delivered")


def _submit(page: Page, services: Services, app_id: str) -> None:
    page.click("#send-code")
    page.wait_for_url(re.compile(r"sent_to="))
    page.check("#f-declaration")
    page.fill("#f-sms_code", _sms(services, f"submit:{app_id}", "13900000001"))
    page.click("#submit-button")
    page.wait_for_url(re.compile(rf"/portal/apps/{app_id}\?submitted=1"))
