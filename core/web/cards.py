"""Card login and card management in the web front (the web half of the local card agent).

The browser talks to the enterprise's local agent (``ws://127.0.0.1:{[agent] port}``, see
docs/agent.md) with ``static/cards.js``; this module only ever sees what the card produced
(signatures, certificates, card challenges) and answers with nonces, cryptograms and certificates.
PINs go from the page to the agent and never reach the server.

Decisions:

* The JSON endpoints live under ``/portal/card-login`` and ``/portal/cards/...`` (not ``/api/``):
  ``/api/`` is the documented API whose table and ``/openapi.json`` must match the routes both ways.
  They behave like the API: JSON bodies, the ``X-CSRF-Token`` header, ``{"error": {...}}`` replies.
* A card login logs in the enterprise's administrator account (the first by username) with
  ``auth_method = "card"``. An enterprise without a web account gets a session for the enterprise
  with a card identity (``card-<device number>``) that is not stored as an account.
* Renewal of the legal card: ``renewals.release`` registers the new certificate on hold; the page
  confirms after ``eport-card_Renew`` wrote it (``renewals.confirm``), and only then the record changes.
* Renewal of an operator card goes through the same two endpoints with the legal card's ``grant``:
  the card's kind picks the path (in the service).
  ``eport-card_Renew`` checks the PIN of the card in the reader, so for an operator card the page asks
  for the OPERATOR card's PIN (the holder or whoever keeps the card types it; it goes to the agent
  only). A locked operator card is unlocked first; the renewed card's PIN is 88888888 again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import cards as card_rules
from core.convert import parse_json
from core.errors import EportError, Forbidden, InvalidInput
from core.labels import TEXTS, label
from core.model import Card, CardKind, CardState
from core.pki.ocsp import ocsp_routes
from core.privacy import mask_id
from core.services import Services
from core.services.cards import login_message
from core.services.crl_publication import PublishedCrl, refresh_at
from core.web.auth import SessionUser, current_user, login, require_user
from core.web.handlers import blocking
from core.web.render import lang_of, render, web
from core.web.replies import KeptPublication
from core.web.security import CSP, require_csrf
from core.web.status import status_for

# ---- the PKI endpoints --------------------------------------------------------------------------------------

def pki_routes(services: Services) -> list[BaseRoute]:
    """``/pki/ocsp`` (the OCSP responder) and ``/pki/crl.der`` (the published CRL, with HTTP caching
    headers; served from memory on the event loop until a certificate's status or the CRL changes)."""
    status = services.cards.certificates
    responder = status.ocsp_responder()  # one per app: it keeps the answers it may send again
    publisher = status.crl_publisher()
    kept: KeptPublication[PublishedCrl] = KeptPublication(lambda: services.store.changes, CRL_TABLES)

    async def crl(request: Request) -> Response:
        now = datetime.now(UTC)  # the CRL's own times are real time, whatever the services' clock says
        found = kept.kept(now)
        if found is None:
            found = await run_in_threadpool(kept.refresh, publisher.current, refresh_at)
        return crl_response(request, found, now)

    return [*ocsp_routes(responder.answer, prefix="/pki/ocsp"), Route("/pki/crl.der", crl, methods=["GET"])]


CRL_TABLES = ("certificates", "crls")  # what a published CRL depends on


def crl_response(request: Request, crl: PublishedCrl, now: datetime) -> Response:
    """The CRL's bytes with validators and a lifetime up to its nextUpdate (RFC 9110 §8.8, §13.1.1,
    §13.1.3; RFC 9111 §5.2.2.1 max-age), or 304 when the client holds this very CRL."""
    etag = f'"crl-{crl.number}"'
    left = max(0, int((crl.next_update - now).total_seconds()))
    headers = {"ETag": etag, "Last-Modified": format_datetime(crl.this_update, usegmt=True),
               "Expires": format_datetime(crl.next_update, usegmt=True),
               "Cache-Control": f"public, max-age={left}"}
    if _not_modified(request, etag, crl.this_update):
        return Response(status_code=304, headers=headers)
    return Response(crl.der, media_type="application/pkix-crl", headers=headers)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    # RFC 9110 §13.2.2: If-None-Match is evaluated first; If-Modified-Since only without it.
    tags = request.headers.get("if-none-match")
    if tags is not None:
        return tags.strip() == "*" or etag in (t.strip().removeprefix("W/") for t in tags.split(","))
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


# ---- helpers -------------------------------------------------------------------------------------------------

def agent_origin_csp(port: int) -> str:
    """The site's CSP plus the local agent for ``connect-src`` (pages load cards.js from /static only)."""
    return CSP.replace("default-src 'self';", f"default-src 'self'; connect-src 'self' ws://127.0.0.1:{port} "
                       f"ws://localhost:{port};")


def script_texts(lang: str) -> dict[str, str]:
    """What static/cards.js says, from the catalogue, for the page to hand it as JSON: the ``cards.js.*``
    texts, and the card kinds and states as ``kind.<value>`` / ``state.<value>``."""
    return ({key: label(key, lang) for key in TEXTS if key.startswith("cards.js.")}
            | {f"kind.{k.value}": label(k, lang) for k in CardKind}
            | {f"state.{s.value}": label(s, lang) for s in CardState})


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    port = web(request).services.settings.agent.port
    context = {"agent_url": f"ws://127.0.0.1:{port}", "script_texts": script_texts(lang_of(request)), **context}
    response = render(request, name, context, status=status)
    response.headers["content-security-policy"] = agent_origin_csp(port)
    return response


JsonHandler = Callable[[Request, dict[str, Any]], dict[str, Any]]


def json_endpoint(handler: JsonHandler) -> Callable[[Request], Awaitable[Response]]:
    """CSRF header, a JSON object body, and ``{"error": {...}}`` with the right status on refusal.

    ``handler`` blocks (database, signatures), so it runs in the thread pool, never on the event loop.
    """
    async def endpoint(request: Request) -> Response:
        try:
            await require_csrf(request)
            raw = await request.body()
            try:
                body = parse_json(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError):
                body = None
            if not isinstance(body, dict):
                raise InvalidInput("请求体须为 JSON 对象。", "The request body must be a JSON object.", field="body")
            return JSONResponse(await run_in_threadpool(handler, request, body))
        except EportError as exc:
            return JSONResponse({"error": exc.as_dict()}, status_code=status_for(exc))
    endpoint.blocking = handler  # type: ignore[attr-defined]  # what runs in the thread pool
    return endpoint


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"缺少参数 {name}", f"{name} is required (a string)", field=name)
    return value.strip()


def _optional_text(body: dict[str, Any], name: str) -> str:
    return _text(body, name) if body.get(name) is not None else ""


def _b64(body: dict[str, Any], name: str) -> bytes:
    try:
        return base64.b64decode("".join(_text(body, name).split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"参数 {name} 须为Base64编码", f"{name} must be Base64", field=name) from None


def _hex(body: dict[str, Any], name: str) -> bytes:
    try:
        return bytes.fromhex(_text(body, name))
    except ValueError:
        raise InvalidInput(f"参数 {name} 须为十六进制", f"{name} must be hexadecimal", field=name) from None


def _card_user(request: Request) -> SessionUser:
    """An enterprise session that logged in with the legal card (required for every card action)."""
    user = current_user(request)
    if user is None or user.kind != "enterprise":
        raise Forbidden("请先用法人卡登录", "log in with the legal card first", field="session")
    if user.auth_method != "card":
        raise Forbidden("卡管理操作须使用法人卡登录后办理（密码登录只能查看）",
                        "card actions need a legal-card login (a password login may only look)", field="session")
    return user


def card_json(card: Card, now: datetime) -> dict[str, Any]:
    cert = card.certificate
    return {"id": card.id, "kind": card.kind.value, "state": card_rules.effective_state(card, now).value,
            "deviceNo": card.device_no, "serial": card.card_no, "pinIsInitial": card.pin_is_initial,
            "certNo": cert.serial if cert else "", "notAfter": cert.not_after.isoformat() if cert else ""}


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


# ---- card login ----------------------------------------------------------------------------------------------

@blocking
def card_login_page(request: Request) -> Response:
    configured = web(request).services.cards.enabled
    return _page(request, "cards/login.html", {"configured": configured,
                                               "next": request.query_params.get("next", "")})


def _login_challenge(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    made = web(request).services.cards.grants.login_challenge()
    return {"nonce": made.nonce, "challenge": login_message(made.nonce), "expiresAt": made.expires_at.isoformat()}


def _card_login(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    nonce, signature, certificate = _text(body, "nonce"), _b64(body, "signature"), _b64(body, "certificate")
    legal = web(request).services.cards.grants.verify_login(nonce, signature, certificate)
    account = web(request).services.accounts.account_for_card(legal)
    login(request, account, auth_method="card", stored=bool(account.password_hash))
    target = body.get("next")
    safe = isinstance(target, str) and target.startswith("/portal") and "//" not in target
    return {"ok": True, "redirect": target if safe else "/portal/cards"}


# ---- the card management page --------------------------------------------------------------------------------

def cards_page(request: Request) -> Response:
    user = require_user(request, "enterprise")
    lang = lang_of(request)
    cards = web(request).services.cards
    overview = cards.overview(user.actor())
    rows = [{
        "card": row.card, "kind": label(row.card.kind, lang), "state_code": row.state.value,
        "state": label(row.state, lang), "holder": _mask_name(row.card.holder.name),
        "holder_id": mask_id(row.card.holder.id_number),
        "expires": row.card.certificate.not_after.date().isoformat() if row.card.certificate else "",
        "actions": [(a, label(f"card.action.{a}", lang)) for a in row.actions],
    } for row in overview.rows]
    policy, window = overview.policy, overview.renewal
    renewal: dict[str, Any] | None = None
    if window is not None and policy is not None:
        renewal = {"card": window.card, "opens": window.opens.date().isoformat(),
                   "expires": window.expires.date().isoformat(), "days": window.days,
                   "initial_pin": policy.initial_pin, "open": window.refusal is None, "refusal": window.refusal}
    context = {"rows": rows, "renewal": renewal, "card_session": user.auth_method == "card",
               "configured": cards.enabled,
               "retry_limit": policy.pin_retry_limit if policy else 3,
               "initial_pin": policy.initial_pin if policy else "88888888"}
    return _page(request, "cards/manage.html", context)


def _action_challenge(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    made = web(request).services.cards.grants.challenge(user.uscc, user.actor())
    return {"nonce": made.nonce, "expiresAt": made.expires_at.isoformat()}


def _operator_action(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    services = web(request).services
    result = services.cards.grants.operator_action(
        request.path_params["card_id"], _text(body, "action"), _b64(body, "certificate"), _b64(body, "signature"),
        _text(body, "nonce"), user.actor())
    reply: dict[str, Any] = {"card": card_json(result.card, services.clock()), "grant": None}
    if result.grant is not None:
        reply["grant"] = {"token": result.grant.token, "cardId": result.grant.card_id,
                          "action": result.grant.action, "serial": result.card.card_no,
                          "expiresAt": result.grant.expires_at.isoformat()}
    return reply


def _release_unblock(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    cryptogram = web(request).services.cards.grants.release_unblock(
        request.path_params["card_id"], _text(body, "serial"), _hex(body, "challenge"), _text(body, "grant"),
        user.actor())
    return {"cryptogram": cryptogram.hex()}


def _release_renewal(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Legal card: its own window. Operator card: the legal card's ``grant`` (used up here)."""
    user = _card_user(request)
    cryptogram, certificate = web(request).services.cards.renewals.release(
        request.path_params["card_id"], _text(body, "serial"), _hex(body, "challenge"), _b64(body, "publicKey"),
        user.actor(), grant_token=_optional_text(body, "grant"))
    return {"cryptogram": cryptogram.hex(), "certificate": base64.b64encode(certificate).decode("ascii")}


def _confirm_renewal(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    services = web(request).services
    renewed = services.cards.renewals.confirm(request.path_params["card_id"], _b64(body, "certificate"),
                                              user.actor())
    return {"card": card_json(renewed, services.clock())}


def _report_status(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """cards.js passes on what the agent read from the card in the reader (``eport-card_Status``)."""
    user = _card_user(request)
    tries, initial = body.get("triesLeft"), body.get("pinIsInitial")
    if not isinstance(tries, int) or isinstance(tries, bool) or not 0 <= tries <= 15:
        raise InvalidInput("triesLeft 须为 0 至 15 的整数", "triesLeft must be a whole number from 0 to 15",
                           field="triesLeft")
    if not isinstance(initial, bool):
        raise InvalidInput("pinIsInitial 须为 true 或 false", "pinIsInitial must be true or false",
                           field="pinIsInitial")
    services = web(request).services
    card = services.cards.self_service.report_status(_text(body, "certNo"), initial, tries, user.actor())
    return {"card": card_json(card, services.clock())}


routes: list[BaseRoute] = [
    Route("/portal/card-login", card_login_page, methods=["GET"]),
    Route("/portal/card-login", json_endpoint(_card_login), methods=["POST"]),
    Route("/portal/card-login/challenge", json_endpoint(_login_challenge), methods=["POST"]),
    Route("/portal/cards", cards_page, methods=["GET"]),
    Route("/portal/cards/challenge", json_endpoint(_action_challenge), methods=["POST"]),
    Route("/portal/cards/status", json_endpoint(_report_status), methods=["POST"]),
    Route("/portal/cards/{card_id}/action", json_endpoint(_operator_action), methods=["POST"]),
    Route("/portal/cards/{card_id}/unblock", json_endpoint(_release_unblock), methods=["POST"]),
    Route("/portal/cards/{card_id}/renewal", json_endpoint(_release_renewal), methods=["POST"]),
    Route("/portal/cards/{card_id}/renewal/confirm", json_endpoint(_confirm_renewal), methods=["POST"]),
]

__all__ = ["agent_origin_csp", "card_json", "json_endpoint", "pki_routes", "routes"]
