"""End to end in real Chromium (Playwright driving Debian's chromium) against uvicorn on a free port.

The story from the issue: an enterprise registers, applies with an upload, reads the SMS code from
the outbox and submits; a reviewer rejects with a reason; the enterprise edits and resubmits; the
reviewer accepts; the card maker makes the cards; the counter clerk hands them over after checking
the receipt; the receipt PDF's text (pdftotext) carries the acceptance number in Chinese context.
Screenshots of the main pages go to ``test-artifacts/screenshots/``. Without chromium this FAILS.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browserkit import serving, shot
from playwright.sync_api import Browser, Page, expect
from webkit import PASSWORD, PNG, registration

from core.model import AppState, Delivery
from core.services import Actor, Services
from core.services.accounts import create_user
from core.web.app import create_app

pytestmark = pytest.mark.browser




@pytest.fixture
def server(services: Services) -> Iterator[str]:
    with serving(create_app(services)) as base:
        yield base





def login(page: Page, base: str, kind: str, username: str) -> None:
    page.goto(f"{base}/{'portal' if kind == 'enterprise' else 'staff'}/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    if kind == "enterprise":
        page.check("#f-agree")  # the agreement ticked before each login, as on the national system
    page.click('form[method="post"] button[type="submit"]')
    page.wait_for_load_state()


def registration_code(services: Services, mobile: str) -> str:
    from core.services.accounts import REGISTER_PURPOSE
    from core.store.accounts import SmsOutbox

    with services.store.transaction(readonly=True) as tx:
        sent = SmsOutbox(tx).latest(REGISTER_PURPOSE, mobile)
    match = re.search(r"验证码为(\d{6})", sent.text if sent else "")
    assert match
    return match.group(1)


def latest_code(page: Page, base: str, back: str) -> str:
    page.goto(f"{base}/dev/outbox")
    text = page.locator(".sms-text").first.inner_text()
    page.goto(back)
    match = re.search(r"验证码为(\d{6})", text)
    assert match, text
    return match.group(1)


def submit_with_code(page: Page, base: str, app_id: str) -> None:
    preview = f"{base}/portal/apps/{app_id}/step/preview"
    page.goto(preview)
    page.click("#check-confirm")  # the data check: 确认无误
    page.wait_for_url(re.compile(r"checked=1"))
    page.click(f'form[action="/portal/apps/{app_id}/sms"] button')
    code = latest_code(page, base, preview)
    page.check('input[name="declaration"]')
    page.fill('input[name="sms_code"]', code)
    page.click(f'form[action="/portal/apps/{app_id}/submit"] button[type="submit"]')
    page.wait_for_url(re.compile(rf"/portal/apps/{app_id}\?submitted=1"))


def staff_act(page: Page, base: str, app_id: str, action: str, **fields: str) -> None:
    page.goto(f"{base}/staff/apps/{app_id}")
    form = page.locator(f"#action-{action}")
    for name, value in fields.items():
        target = form.locator(f'[name="{name}"]')
        if name == "reasons":
            form.locator(f'input[value="{value}"]').check()
        elif name == "confirm":  # the "are you sure" box the form requires
            target.check()
        elif target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    form.locator('button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"/staff/apps/{app_id}\?done={action}"))


def test_the_whole_story_in_chromium(server: str, browser: Browser, services: Services, tmp_path: Path):
    base = server
    for name, roles in (("reviewer", ["reviewer"]), ("maker", ["card_maker"]), ("clerk", ["counter_clerk"])):
        create_user(services, name, PASSWORD, "staff", region="shenzhen", roles=roles)

    # -- the enterprise registers and applies ------------------------------------------------------------
    ent = browser.new_context(locale="zh-CN").new_page()
    ent.goto(f"{base}/")
    shot(ent, "01-home")
    ent.goto(f"{base}/portal/register")
    form = registration(1)
    for key, value in form.items():
        if key == "agree":
            continue
        field = ent.locator(f'[name="{key}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    ent.click("#register-send-code")  # the SMS code to the administrator's mobile; the form comes back
    ent.wait_for_load_state()
    ent.fill("#f-sms_code", registration_code(services, form["mobile"]))
    ent.fill("#f-password", PASSWORD)
    ent.fill("#f-password2", PASSWORD)
    ent.check("#f-agree")
    shot(ent, "02-register")
    ent.click("#register-submit")
    ent.wait_for_url(re.compile(r"/portal/login\?registered=1"))
    login(ent, base, "enterprise", form["username"])
    ent.wait_for_url(re.compile(r"/portal$"))
    ent.goto(f"{base}/portal/apps/new")
    ent.check('input[name="business"][value="enrol"]')
    ent.click('form[action="/portal/apps/new"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/enterprise"))
    app_id = ent.url.split("/")[5]
    step = f"{base}/portal/apps/{app_id}/step"
    shot(ent, "03-step-enterprise")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/legal"))
    ent.fill('[name="legal.phone"]', "13900000001")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/operators"))
    ent.click("#operators-yes")  # 是否同时申请操作员卡: yes
    from core.samples import make_person

    operator = make_person(2, "440304")
    for key, value in {"holder.name": operator.name, "holder.id_number": operator.id_number,
                       "holder.id_valid_from": "20200101", "holder.id_valid_to": "00000000",
                       "holder.phone": operator.phone}.items():
        ent.fill(f'[name="{key}"]', value)
    ent.click('button[name="op"][value="save_row"]')
    ent.wait_for_load_state()
    ent.locator('button[name="op"][value^="confirm:"]').first.click()
    ent.wait_for_load_state()
    shot(ent, "04-step-operators")
    ent.goto(f"{step}/agent")
    ent.check('input[name="agent"][value="legal_rep"]')
    ent.fill('[name="agent_phone"]', "13900000001")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/pickup"))
    ent.check('input[name="method"][value="counter"]')
    ent.select_option('[name="outlet"]', "shenzhen_east_hall")
    ent.click('button[name="action"][value="next"]')
    ent.wait_for_url(re.compile(r"/step/uploads"))
    upload = tmp_path / "licence.png"
    upload.write_bytes(PNG)
    ent.set_input_files('input[name="file"]', str(upload))
    ent.click('form[enctype="multipart/form-data"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/uploads\?saved=1"))
    shot(ent, "05-step-uploads")
    submit_with_code(ent, base, app_id)
    number = ent.locator(".acceptance-no").inner_text().strip()
    assert re.fullmatch(r"WSZ\d{7}", number), number
    shot(ent, "06-submitted")

    # -- the reviewer accepts, then rejects with a reason ----------------------------------------------------
    staff_page = browser.new_context(locale="zh-CN").new_page()
    login(staff_page, base, "staff", "reviewer")
    staff_page.fill('input[name="q"]', number)
    staff_page.click('#queue-filter button[type="submit"]')
    staff_page.wait_for_load_state()
    assert staff_page.locator(f'tr[data-app-id="{app_id}"]').count() == 1
    shot(staff_page, "07-staff-queue")
    staff_act(staff_page, base, app_id, "accept")
    shot(staff_page, "08-staff-detail")
    staff_act(staff_page, base, app_id, "reject", reasons="materials_incomplete", note="营业执照复印件未盖章",
              confirm="yes")
    assert staff_page.locator("#app-state").get_attribute("data-state") == "rejected"

    # -- the enterprise sees why, edits and resubmits --------------------------------------------------------------
    ent.goto(f"{base}/portal/apps/{app_id}")
    assert "营业执照复印件未盖章" in ent.content()
    shot(ent, "09-rejected")
    ent.goto(f"{step}/uploads")
    ent.set_input_files('input[name="file"]', str(upload))
    ent.click('form[enctype="multipart/form-data"] button[type="submit"]')
    ent.wait_for_url(re.compile(r"/step/uploads\?saved=1"))
    submit_with_code(ent, base, app_id)
    assert ent.locator(".acceptance-no").inner_text().strip() == number

    # -- accepted, made, handed over -----------------------------------------------------------------------------------
    staff_act(staff_page, base, app_id, "accept")
    maker = browser.new_context(locale="zh-CN").new_page()
    login(maker, base, "maker", "maker")
    staff_act(maker, base, app_id, "start_production")
    for _ in range(2):
        index = maker.locator("#action-make select option").first.get_attribute("value")
        staff_act(maker, base, app_id, "make", item=str(index))
    staff_act(maker, base, app_id, "complete", confirm="yes")
    clerk = browser.new_context(locale="zh-CN").new_page()
    login(clerk, base, "clerk", "clerk")
    staff_act(clerk, base, app_id, "hand_over", acceptance_no=number)
    shot(clerk, "10-handed-over")
    done = services.applications.get(app_id, Actor.system("test"))
    assert done.state is AppState.COMPLETED and done.delivery is Delivery.HANDED_OVER
    assert all(item.made for item in done.items)
    assert {"reject", "resubmit", "hand_over"} <= {h.action for h in done.history}

    # -- the receipt PDF, read back with pdftotext ------------------------------------------------------------------------
    ent.goto(f"{base}/portal/apps/{app_id}")
    shot(ent, "11-enterprise-detail")
    pdf = ent.request.get(f"{base}/portal/apps/{app_id}/receipt.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert re.search(rf"受理编号\s*[:：]?\s*{number}", text), text


def test_staff_accounts_and_a_forgotten_password_in_chromium(server: str, browser: Browser, services: Services):
    base = server
    create_user(services, "boss-sz", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"],
                display_name="管理员")
    admin = browser.new_page()
    login(admin, base, "staff", "boss-sz")
    admin.click("#staff-accounts-link")
    admin.fill("#f-username", "wang-sz")
    admin.fill("#f-display_name", "王")
    admin.fill("#f-password", PASSWORD)
    admin.check('#add-staff input[name="roles"][value="reviewer"]')
    admin.click("#add-staff-submit")
    row = admin.locator('tr[data-username="wang-sz"]')
    expect(row).to_have_attribute("data-status", "active")
    row.locator("#confirm-disable-wang-sz").check()  # 停用 is confirmed first
    row.locator('button:has-text("停用")').click()
    expect(admin.locator('tr[data-username="wang-sz"]')).to_have_attribute("data-status", "disabled")
    shot(admin, "12-staff-accounts")

    sample = registration(5)
    create_user(services, "ent5", PASSWORD, "enterprise", uscc=sample["uscc"], region="shenzhen",
                mobile="13800000005")
    ent = browser.new_page()
    ent.goto(f"{base}/portal/login")
    ent.click("#password-reset-link")
    ent.fill("#f-username", "ent5")
    ent.fill("#f-mobile", "13800000005")
    ent.click("#reset-send")
    expect(ent.locator("#reset-sent")).to_be_visible()
    code = latest_code(browser.new_page(), base, f"{base}/")  # the phone: the development outbox
    ent.fill("#f-sms_code", code)
    ent.fill("#f-password", "N3w-passw0rd-e2e")
    ent.fill("#f-password2", "N3w-passw0rd-e2e")
    shot(ent, "13-password-reset")
    ent.click("#reset-submit")
    expect(ent.locator(".notice")).to_contain_text("新密码已设置")
    ent.fill('input[name="username"]', "ent5")
    ent.fill('input[name="password"]', "N3w-passw0rd-e2e")
    ent.check("#f-agree")
    ent.click('form[method="post"] button[type="submit"]')
    ent.wait_for_url(f"{base}/portal")
