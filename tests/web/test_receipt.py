"""The receipt PDF: A4, Chinese text with an embedded font, the acceptance number, masked IDs, a QR code."""

from __future__ import annotations

import re
import subprocess

from pypdf import PdfReader
from webkit import fill_enrolment, register_and_login, registration, submit_via_portal

from core.services import Actor


def _receipt(client, services, tmp_path):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    assert submit_via_portal(client, services, app_id).status_code == 303
    app = services.applications.get(app_id, Actor(id="e", kind="enterprise", uscc=registration(1)["uscc"]))
    answer = client.get(f"/portal/apps/{app_id}/receipt.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    path = tmp_path / "receipt.pdf"
    path.write_bytes(answer.content)
    return app, path


def test_receipt_text_has_the_acceptance_number_in_chinese_context(client, services, tmp_path):
    app, path = _receipt(client, services, tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "电子口岸卡业务受理回执" in text
    assert re.search(r"受理编号：\s*" + re.escape(app.acceptance_no), text)
    assert app.enterprise.name in text
    for item in app.items:
        number = item.holder.id_number
        assert number not in text and f"{number[:6]}********{number[-4:]}" in text


def test_receipt_is_a4_with_the_cjk_font_embedded_and_a_qr_image(client, services, tmp_path):
    _app, path = _receipt(client, services, tmp_path)
    page = PdfReader(str(path)).pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (595, 842)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "WQY" in line.upper()]
    assert cjk and all(" yes " in line for line in cjk)  # embedded
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) >= 3  # header lines + the QR code


def test_receipt_before_submission_is_refused(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    answer = client.get(f"/portal/apps/{app_id}/receipt.pdf")
    assert answer.status_code == 400 and "提交后" in answer.text
