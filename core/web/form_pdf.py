"""A region's form as an A4 PDF: its fields (pre-filled or blank for handwriting), its fixed text, the
embedded CJK font of the receipt (reportlab subsets and embeds a TrueType font it draws with)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.guide.forms import FilledForm
from core.web.receipt import _font

# Chinese has no spaces to break at: reportlab's CJK word wrap breaks between any two characters
# (reportlab user guide, "Paragraph" styles, wordWrap='CJK').
GRID = 0.5


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, alignment=1),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9.5, leading=13, alignment=1),
        "label": ParagraphStyle("label", parent=base, fontSize=9.5, leading=13),
        "value": ParagraphStyle("value", parent=base, fontSize=11, leading=15),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def form_pdf(filled: FilledForm) -> bytes:
    """The form as PDF bytes: title in both languages, one row per field, the form's own text, and
    whether it carries an enterprise's data or is blank."""
    font = _font()
    styles = _styles(font)
    form, region = filled.form, filled.region
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{form.code} {form.title.zh}", author=region.centre.zh)
    story: list = [
        _p(form.title.zh, styles["title"]),
        _p(form.title.get("en"), styles["subtitle"]),
        _p(f"{region.centre.zh} / {region.centre.get('en')} · {form.code}", styles["subtitle"]),
        _p(f"业务 / Business：{filled.business_name.zh} / {filled.business_name.get('en')}", styles["subtitle"]),
        Spacer(1, 5 * mm),
    ]
    if form.fields:
        rows = [[_p(f"{f.label.zh}\n{f.label.get('en')}", styles["label"]), _p(value, styles["value"])]
                for f, value in zip(form.fields, filled.values, strict=True)]
        table = Table(rows, colWidths=[55 * mm, None], rowHeights=[11 * mm] * len(rows))
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), GRID, "#555555"),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                   ("BACKGROUND", (0, 0), (0, -1), "#f0f2f5")]))
        story += [table, Spacer(1, 5 * mm)]
    if form.body:
        story += [_p(form.body.zh, styles["body"]), Spacer(1, 2 * mm), _p(form.body.get("en"), styles["small"]),
                  Spacer(1, 4 * mm)]
    if form.copies > 1:
        story.append(_p(f"一式{form.copies}份 / {form.copies} copies", styles["body"]))
    story += [Spacer(1, 6 * mm), _p(_footer(filled), styles["small"])]
    doc.build(story)
    return buffer.getvalue()


def _footer(filled: FilledForm) -> str:
    made = (f"已按“{filled.prefilled_for}”登记的信息预填，请核对后签章。 / Pre-filled with the registered data of "
            f"{filled.prefilled_for}; check it before signing and stamping.") if filled.prefilled_for else \
        "空白表格，请如实手工填写。 / Blank form: fill it in by hand."
    source = filled.form.source
    title = filled.region.source_title(source) if source else None  # the document's title, not its file name
    cited = f"{title.zh} / {title.get('en')}" if title is not None else (source or "-")
    return f"{made}\n依据 / Source: {cited}"


__all__ = ["form_pdf"]
