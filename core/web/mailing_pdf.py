"""A day's mailings on paper: the mailing list (A4 table) and the address labels (an A4 label sheet),
each label with the acceptance number and its QR code, so the parcel can be checked against the
application at the counter and by the courier. Same font and QR code as the receipt (core/web/receipt.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import segno
from attrs import frozen
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen import canvas

from core.deadlines import CHINA
from core.labels import label
from core.model import Application
from core.web.receipt import cjk_font

# Avery L7163 and its equivalents: 14 labels on an A4 sheet, 2 columns x 7 rows of 99.1 x 38.1 mm,
# 15.1 mm top margin, 4.6 mm side margins, 2.5 mm between the columns (the sheet's published layout).
LABEL_WIDTH, LABEL_HEIGHT = 99.1 * mm, 38.1 * mm
LABEL_COLUMNS, LABEL_ROWS = 2, 7
LABEL_TOP, LABEL_LEFT, LABEL_GAP = 15.1 * mm, 4.6 * mm, 2.5 * mm
QR_SIZE = 30 * mm


@frozen
class MailLine:
    """One parcel: what the list and its label print."""

    acceptance_no: str
    enterprise: str
    recipient: str
    phone: str
    address: str
    cards: int
    centre: str  # the sender: the branch centre's name

    @classmethod
    def of(cls, app: Application, centre: str) -> MailLine:
        mail = app.pickup.mail_to
        assert mail is not None  # the service lists only applications with a mailing address
        return cls(app.acceptance_no, app.enterprise.name, mail.recipient, mail.phone, mail.address,
                   len(app.items), centre)


def _qr(text: str) -> ImageReader:
    image = io.BytesIO()
    segno.make(text, error="m").save(image, kind="png", scale=5, border=1)
    image.seek(0)
    return ImageReader(image)


def _both(key: str) -> str:
    return f"{label(key)} {label(key, 'en')}"


def list_pdf(lines: Sequence[MailLine], centre: str, now: datetime) -> bytes:
    """The mailing list: one row per parcel, with an empty column for the tracking number."""
    font = cjk_font()
    buffer = io.BytesIO()
    page = landscape(A4)
    pdf = canvas.Canvas(buffer, pagesize=page, pageCompression=1)
    title = f"{label('mail.sheet_title')} / {label('mail.sheet_title', 'en')}"
    pdf.setTitle(title)
    width, height = page
    columns = (("#", 10), (_both("app.acceptance_no"), 32), (_both("mail.recipient"), 30), (_both("mail.phone"), 30),
               (_both("mail.address"), 100), (_both("mail.cards"), 18), (_both("mail.tracking"), 45))
    left, row_height = 12 * mm, 12 * mm

    def header() -> float:
        pdf.setFont(font, 14)
        pdf.drawString(left, height - 15 * mm, f"{title} · {centre}")
        pdf.setFont(font, 9)
        printed = now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        pdf.drawRightString(width - left, height - 15 * mm, f"{_both('mail.printed')}: {printed}")
        y = height - 25 * mm
        x = left
        for name, size in columns:
            pdf.drawString(x + 1 * mm, y + 2 * mm, name)
            x += size * mm
        pdf.line(left, y, width - left, y)
        return y

    y = header()
    for n, line in enumerate(lines, start=1):
        if y - row_height < 15 * mm:
            pdf.showPage()
            y = header()
        values = (str(n), line.acceptance_no, line.recipient, line.phone, line.address, str(line.cards), "")
        x = left
        pdf.setFont(font, 9)
        for (_name, size), value in zip(columns, values, strict=True):
            for k, part in enumerate(simpleSplit(value, font, 9, size * mm - 2 * mm)[:2]):
                pdf.drawString(x + 1 * mm, y - 5 * mm - k * 4 * mm, part)
            x += size * mm
        y -= row_height
        pdf.line(left, y, width - left, y)
    if not lines:
        pdf.setFont(font, 11)
        pdf.drawString(left, y - 10 * mm, f"{label('mail.none')} {label('mail.none', 'en')}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def labels_pdf(lines: Sequence[MailLine]) -> bytes:
    """The address labels, 14 to an A4 sheet: recipient, phone and address, the acceptance number and
    its QR code, and the sender."""
    font = cjk_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{label('mail.labels_pdf')} / {label('mail.labels_pdf', 'en')}")
    _width, height = A4
    per_page = LABEL_COLUMNS * LABEL_ROWS
    for n, line in enumerate(lines):
        if n and n % per_page == 0:
            pdf.showPage()
        slot = n % per_page
        column, row = slot % LABEL_COLUMNS, slot // LABEL_COLUMNS
        x = LABEL_LEFT + column * (LABEL_WIDTH + LABEL_GAP)
        top = height - LABEL_TOP - row * LABEL_HEIGHT
        _label(pdf, font, line, x, top)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _label(pdf: canvas.Canvas, font: str, line: MailLine, x: float, top: float) -> None:
    pad = 3 * mm
    text_width = LABEL_WIDTH - QR_SIZE - 3 * pad
    pdf.setFont(font, 11)
    pdf.drawString(x + pad, top - pad - 4 * mm, f"{line.recipient}  {line.phone}")
    pdf.setFont(font, 9)
    y = top - pad - 9 * mm
    for part in simpleSplit(line.address, font, 9, text_width)[:3]:
        pdf.drawString(x + pad, y, part)
        y -= 4 * mm
    pdf.setFont(font, 8)
    pdf.drawString(x + pad, top - LABEL_HEIGHT + pad + 4 * mm, f"{label('app.acceptance_no')} {line.acceptance_no}")
    pdf.drawString(x + pad, top - LABEL_HEIGHT + pad, simpleSplit(line.centre, font, 8, text_width)[0])
    pdf.drawImage(_qr(line.acceptance_no), x + LABEL_WIDTH - QR_SIZE - pad, top - LABEL_HEIGHT + (LABEL_HEIGHT - QR_SIZE) / 2,
                  QR_SIZE, QR_SIZE)


__all__ = ["LABEL_COLUMNS", "LABEL_ROWS", "MailLine", "labels_pdf", "list_pdf"]
