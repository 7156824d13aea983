"""The receipt (受理回执) an enterprise brings to the counter: A4 PDF, embedded CJK font, QR code."""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from core.deadlines import china_date
from core.errors import ConfigError
from core.labels import label, pair
from core.model import Application, Pickup
from core.privacy import mask_id
from core.rulebook import Rulebook

FONT_NAME = "WenQuanYiZenHei"
FONT_PATHS = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),)
TITLE = "电子口岸卡业务受理回执"


@cache
def cjk_font() -> str:
    """Register the CJK TrueType font once; reportlab embeds (subsets) it in every PDF."""
    for path in FONT_PATHS:
        if path.exists():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            return FONT_NAME
    raise ConfigError("缺少中文字体，请安装 fonts-wqy-zenhei。",
                      "No CJK font found: install the fonts-wqy-zenhei package.", field="font")


_font = cjk_font  # the name core/web/form_pdf.py imports


def progress_url(base_url: str, app: Application) -> str:
    query = urlencode({"acceptance_no": app.acceptance_no, "uscc": app.enterprise.uscc})
    return f"{base_url.rstrip('/')}/progress?{query}"


def _pickup_text(app: Application, rulebook: Rulebook) -> str:
    if app.pickup.method is Pickup.MAIL:
        return "邮寄（到付） / by post (COD)"
    code = app.pickup.outlet or app.making_centre
    for outlet in rulebook.outlets(app.region):
        if outlet.code == code or not code:
            return f"窗口领取：{outlet.name.zh}"
    return "窗口领取 / at the counter"


def receipt_pdf(app: Application, rulebook: Rulebook, base_url: str, now: datetime) -> bytes:
    """The receipt as PDF bytes. ID numbers are masked; the QR code opens the progress query."""
    font = cjk_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{TITLE} {app.acceptance_no}")
    width, height = A4
    left, y = 20 * mm, height - 25 * mm
    pdf.setFont(font, 18)
    pdf.drawCentredString(width / 2, y, TITLE)
    pdf.setFont(font, 10)
    pdf.drawCentredString(width / 2, y - 6 * mm, "E-Port card application receipt")
    y -= 20 * mm
    region = rulebook.region(app.region)
    business_zh, business_en = pair(app.business)
    state_zh, state_en = pair(app.state)
    lines = [
        f"受理编号：{app.acceptance_no}",
        f"受理机构：{region.centre.zh}",
        f"单位名称：{app.enterprise.name}",
        f"统一社会信用代码：{app.enterprise.uscc}",
        f"业务类型：{business_zh}（{business_en}）",
        f"当前状态：{state_zh}（{state_en}）",
        f"经办人：{app.agent.name + ' ' + mask_id(app.agent.id_number) if app.agent else '—'}",
        f"取卡方式：{_pickup_text(app, rulebook)}",
        f"打印时间：{china_date(now).isoformat()}",
    ]
    pdf.setFont(font, 12)
    for line in lines:
        pdf.drawString(left, y, line)
        y -= 8 * mm
    y -= 4 * mm
    pdf.drawString(left, y, "申请卡片 / Cards:")
    y -= 7 * mm
    pdf.setFont(font, 11)
    for n, item in enumerate(app.items, start=1):
        pdf.drawString(left + 5 * mm, y, f"{n}. {label(item.kind)}  "
                                         f"{item.holder.name}  {mask_id(item.holder.id_number)}")
        y -= 7 * mm
    qr = segno.make(progress_url(base_url, app), error="m")
    image = io.BytesIO()
    qr.save(image, kind="png", scale=6, border=2)
    image.seek(0)
    size = 40 * mm
    pdf.drawImage(ImageReader(image), width - left - size, height - 75 * mm, size, size)
    pdf.setFont(font, 9)
    pdf.drawString(width - left - size, height - 79 * mm, "扫码查询办理进度")
    pdf.setFont(font, 10)
    pdf.drawString(left, 30 * mm, "领卡时请携带本回执及经办人身份证件原件，工作人员核对受理编号后交付。")
    pdf.drawString(left, 24 * mm, "Bring this receipt and the agent's ID to the counter; staff check the "
                                  "acceptance number before handing over the cards.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


__all__ = ["TITLE", "cjk_font", "progress_url", "receipt_pdf"]
