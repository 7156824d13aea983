"""A day's mailings for the counter clerk: the completed applications whose cards go by post and have not
gone yet (or came back), with recipient, phone and address, printed as a list and as address labels.

The service decides what is on the list and who may read it (``ApplicationService.mailings``: whoever may
ship); this module renders it (core/web/mailing_pdf.py draws the PDFs).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.model import Application
from core.web.auth import require_user
from core.web.handlers import blocking
from core.web.mailing_pdf import MailLine, labels_pdf, list_pdf
from core.web.portal import content_disposition
from core.web.render import render, web


def _mailings(request: Request) -> tuple[list[Application], str]:
    user = require_user(request, "staff")
    services = web(request).services
    found = services.applications.mailings(user.actor())
    centre = services.rulebook.region(user.region).centre
    return found, f"{centre.zh} {centre.en}" if centre.en and centre.en != centre.zh else centre.zh


@blocking
def mailings_page(request: Request) -> Response:
    found, _centre = _mailings(request)
    return render(request, "staff/mailings.html", {"apps": found})


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(name), "Cache-Control": "private, no-store"})


@blocking
def mailing_list(request: Request) -> Response:
    found, centre = _mailings(request)
    now = web(request).services.clock()
    lines = [MailLine.of(app, centre) for app in found]
    return _pdf(list_pdf(lines, centre, now), f"mailing-list-{now:%Y%m%d}.pdf")


@blocking
def mailing_labels(request: Request) -> Response:
    found, centre = _mailings(request)
    now = web(request).services.clock()
    return _pdf(labels_pdf([MailLine.of(app, centre) for app in found]), f"mailing-labels-{now:%Y%m%d}.pdf")


routes: list[BaseRoute] = [
    Route("/staff/mailings", mailings_page, name="staff_mailings"),
    Route("/staff/mailings/list.pdf", mailing_list, name="staff_mailing_list"),
    Route("/staff/mailings/labels.pdf", mailing_labels, name="staff_mailing_labels"),
]

__all__ = ["routes"]
