"""Shared state of the web app and page rendering (templates with the language, user and CSRF token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attrs import define
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from core.errors import EportError, Problems
from core.guide.build import offer_labels
from core.labels import enum_label
from core.loopback import is_loopback
from core.model import AppState, Business, RejectionReason
from core.privacy import mask_id, mask_phone
from core.rules import Text
from core.services import Services
from core.services.accounts import SessionCheck
from core.services.sms import SmsGateway
from core.web.auth import current_user
from core.web.i18n import DEFAULT_LANG, normalise_lang, pick, t
from core.web.replies import ReplyCache
from core.web.security import client_address, csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
PAGE_SIZE = 20
MAX_PAGE = 10_000  # deeper pages are a search's job; also keeps offsets inside a 64-bit integer


def page_number(value: str | None) -> int:
    """A ``?page=`` value as a page number in 1..MAX_PAGE (anything else is page 1)."""
    value = (value or "").strip()
    return min(max(int(value), 1), MAX_PAGE) if value.isdigit() else 1


@define
class WebState:
    """What every request handler shares: one per app, made by ``create_app``."""

    services: Services
    sms: SmsGateway
    secret: str  # signs sessions and keys the SMS code hashes
    replies: ReplyCache  # the hottest JSON reads, kept while the data is unchanged
    sessions: SessionCheck  # whether a session still stands (asked on every request)


def web(request: Request) -> WebState:
    return request.app.state.web


def outbox_open(request: Request) -> bool:
    """The development outbox holds every SMS code sent: it is shown only in development mode and
    only to a browser on this machine."""
    state = web(request)
    return (state.services.settings.web.development and state.sms.name == "outbox"
            and is_loopback(client_address(request)))


def lang_of(request: Request) -> str:
    chosen = normalise_lang(request.query_params.get("lang")) or normalise_lang(request.session.get("lang"))
    return chosen or DEFAULT_LANG


def error_lines(exc: EportError) -> list[EportError]:
    return list(exc.problems) if isinstance(exc, Problems) else [exc]


def _offer_names(offers: list[Any]) -> dict[Business, Text]:
    """The names a list of offers (or of (offer, reason) pairs) shows: no two alike (core.guide.build.offer_labels)."""
    return offer_labels([o[0] if isinstance(o, tuple) else o for o in offers])


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
           ) -> HTMLResponse:
    lang = lang_of(request)
    other = "en" if lang == "zh" else "zh"
    base: dict[str, Any] = {
        "lang": lang, "other_lang": other,
        "switch_url": request.url.include_query_params(lang=other).path + "?"
        + str(request.url.include_query_params(lang=other).query),
        "user": current_user(request), "csrf": csrf_token(request),
        "t": lambda key, **values: t(key, lang, **values), "pick": lambda text: pick(text, lang),
        "state_name": lambda s: enum_label(AppState, s, lang),
        "business_name": lambda b: enum_label(Business, b, lang),
        "offer_names": _offer_names,
        "reason_name": lambda r: enum_label(RejectionReason, r, lang),
        "mask_id": mask_id, "mask_phone": mask_phone,
        "msg": lambda e: e.en if lang == "en" else e.zh,
        "errors": [], "outbox": outbox_open(request),
    }
    return TEMPLATES.TemplateResponse(request, name, base | (context or {}), status_code=status)


__all__ = ["MAX_PAGE", "PAGE_SIZE", "TEMPLATES", "WebState", "error_lines", "is_loopback", "lang_of", "outbox_open",
           "page_number", "render", "web"]
