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
* Renewal of the legal card: ``release_renewal`` registers the new certificate on hold; the page
  confirms after ``eport-card_Renew`` wrote it (``confirm_renewal``), and only then the record changes.
* Renewal of an operator card goes through the same two endpoints with the legal card's ``grant``
  (``release_operator_renewal`` / ``confirm_operator_renewal``): the card's kind picks the path.
  ``eport-card_Renew`` checks the PIN of the card in the reader, so for an operator card the page asks
  for the OPERATOR card's PIN (the holder or whoever keeps the card types it; it goes to the agent
  only). A locked operator card is unlocked first; the renewed card's PIN is 88888888 again.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import cards as card_rules
from core.convert import parse_json
from core.errors import EportError, Forbidden, InvalidInput
from core.labels import TEXTS, label
from core.model import Card, CardKind, CardState
from core.privacy import mask_id
from core.services import Services
from core.web.auth import SessionUser, current_user, login, require_user
from core.web.render import lang_of, render, web
from core.web.security import CSP, require_csrf

log = logging.getLogger(__name__)

CARD_SESSION_ACTIONS = sorted(card_rules.OPERATOR_ACTIONS_BY_LEGAL_CARD)


# ---- the card service of the app ----------------------------------------------------------------------------

def card_service_from_settings(services: Services):
    """The deployment's CardService, or None when no CA (with its passphrase) or master secret is set up.

    The CA passphrase comes from the environment variable ``[pki] passphrase_env``, as for the CLI.
    """
    from core.pki.ca import CERT_FILE, CertificateAuthority
    from core.services.cards import CardService, load_master_secret

    settings = services.settings
    ca_dir = settings.path(settings.pki.ca_dir)
    passphrase = os.environ.get(settings.pki.passphrase_env)
    master = settings.path(settings.card.master_key_file)
    if not (ca_dir / CERT_FILE).exists() or not passphrase or not master.exists():
        log.info("card login and card management are off: no CA in %s, no %s, or no master secret %s",
                    ca_dir, settings.pki.passphrase_env, master)
        return None
    return CardService(services, CertificateAuthority.load(ca_dir, passphrase), load_master_secret(master))


def pki_routes(cards) -> list[BaseRoute]:
    """``/pki/ocsp`` (the OCSP responder) and ``/pki/crl.der`` (a fresh CRL from the registry)."""
    from starlette.concurrency import run_in_threadpool

    from core.pki.crl import build_crl
    from core.pki.ocsp import ocsp_routes
    from core.pki.registry import store_registry_factory

    factory = store_registry_factory(cards.s.store)
    hours = cards.s.settings.pki.crl_hours

    def crl_der() -> bytes:
        from cryptography.hazmat.primitives import serialization

        with factory() as registry:
            crl = build_crl(cards.ca, registry, next_update_hours=hours)
        return crl.public_bytes(serialization.Encoding.DER)

    async def crl(request: Request) -> Response:
        return Response(await run_in_threadpool(crl_der), media_type="application/pkix-crl")

    return [*ocsp_routes(cards.ca, factory, hours, prefix="/pki/ocsp"),
            Route("/pki/crl.der", crl, methods=["GET"])]


def _cards(request: Request):
    service = getattr(request.app.state, "cards", None)
    if service is None:
        raise Forbidden("本系统未配置发卡CA，暂不能使用卡登录和卡管理",
                        "this deployment has no card CA configured, so card login and card management are off",
                        field="card")
    return service


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


def _status(exc: EportError) -> int:
    from core.web.app import status_for

    return status_for(exc)


JsonEndpoint = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def json_endpoint(handler: JsonEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """CSRF header, a JSON object body, and ``{"error": {...}}`` with the right status on refusal."""
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
            return JSONResponse(await handler(request, body))
        except EportError as exc:
            return JSONResponse({"error": exc.as_dict()}, status_code=_status(exc))
    return endpoint


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"缺少参数 {name}", f"{name} is required (a string)", field=name)
    return value.strip()


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


def _enterprise_card(request: Request, user: SessionUser, card_id: str) -> Card:
    with web(request).services.store.transaction(readonly=True) as tx:
        try:
            card = tx.cards.get(card_id)
        except EportError:
            card = None
    if card is None or card.enterprise_uscc != user.uscc:  # another enterprise's card: as if unknown
        raise Forbidden("只能管理本企业的卡", "you may manage your own enterprise's cards only", field="card")
    return card


def card_json(card: Card, now: datetime) -> dict[str, Any]:
    cert = card.certificate
    return {"id": card.id, "kind": card.kind.value, "state": card_rules.effective_state(card, now).value,
            "deviceNo": card.device_no, "serial": card.card_no, "pinIsInitial": card.pin_is_initial,
            "certNo": cert.serial if cert else "", "notAfter": cert.not_after.isoformat() if cert else ""}


def allowed_actions(card: Card, now: datetime) -> list[str]:
    """What the legal card may do to this card from the page: the state machine ∩ the legal card's powers.

    An expired card is renewed at the counter; an active one may be renewed from the page at any time
    (the 0-180-day window is the legal card's own self-service rule).
    """
    if card.kind is CardKind.LEGAL or card_rules.effective_state(card, now) is CardState.EXPIRED:
        return []
    allowed = set(card_rules.allowed_card_actions(card)) & set(CARD_SESSION_ACTIONS)
    if card.state is CardState.ACTIVE:
        allowed.add("unlock")  # a card may have blocked itself where we could not see it (PIN reset)
    return sorted(allowed)


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


# ---- card login ----------------------------------------------------------------------------------------------

async def card_login_page(request: Request) -> Response:
    configured = getattr(request.app.state, "cards", None) is not None
    return _page(request, "cards/login.html", {"configured": configured,
                                               "next": request.query_params.get("next", "")})


async def _login_challenge(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    from core.services.cards import login_message

    made = _cards(request).login_challenge()
    return {"nonce": made.nonce, "challenge": login_message(made.nonce), "expiresAt": made.expires_at.isoformat()}


async def _card_login(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    cards = _cards(request)
    nonce, signature, certificate = _text(body, "nonce"), _b64(body, "signature"), _b64(body, "certificate")
    legal = cards.verify_login(nonce, signature, certificate)
    account = web(request).services.accounts.account_for_card(legal)
    login(request, account, auth_method="card", stored=bool(account.password_hash))
    target = body.get("next")
    safe = isinstance(target, str) and target.startswith("/portal") and "//" not in target
    return {"ok": True, "redirect": target if safe else "/portal/cards"}


# ---- the card management page --------------------------------------------------------------------------------

async def cards_page(request: Request) -> Response:
    user = require_user(request, "enterprise")
    services = web(request).services
    now = services.clock()
    lang = lang_of(request)
    with services.store.transaction(readonly=True) as tx:
        cards = [c for c in tx.cards.for_enterprise(user.uscc) if c.state is not CardState.BLANK]
    region = user.region or services.settings.regions.default
    policy = services.rulebook.card_policy(region) if region else None
    rows = []
    legal = None
    for card in cards:
        state = card_rules.effective_state(card, now)
        rows.append({
            "card": card, "kind": label(card.kind, lang), "state_code": state.value,
            "state": label(state, lang), "holder": _mask_name(card.holder.name),
            "holder_id": mask_id(card.holder.id_number),
            "expires": card.certificate.not_after.date().isoformat() if card.certificate else "",
            "actions": [(a, label(f"card.action.{a}", lang)) for a in allowed_actions(card, now)],
        })
        if card.kind is CardKind.LEGAL and card.state not in card_rules.TERMINAL:
            legal = card
    renewal: dict[str, Any] | None = None
    if legal is not None and policy is not None:
        window = card_rules.renewal_window(legal, policy)
        if window is not None:
            try:
                card_rules.check_self_renewal(legal, now, policy)
                refusal = None
            except EportError as exc:
                refusal = exc
            renewal = {"card": legal, "opens": window[0].date().isoformat(), "expires": window[1].date().isoformat(),
                       "days": policy.renewal_window_days, "initial_pin": policy.initial_pin,
                       "open": refusal is None, "refusal": refusal}
    context = {"rows": rows, "renewal": renewal, "card_session": user.auth_method == "card",
               "configured": getattr(request.app.state, "cards", None) is not None,
               "retry_limit": policy.pin_retry_limit if policy else 3,
               "initial_pin": policy.initial_pin if policy else "88888888"}
    return _page(request, "cards/manage.html", context)


async def _action_challenge(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    made = _cards(request).challenge(user.uscc, user.actor())
    return {"nonce": made.nonce, "expiresAt": made.expires_at.isoformat()}


async def _operator_action(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    card_id = request.path_params["card_id"]
    _enterprise_card(request, user, card_id)
    action = _text(body, "action")
    if action not in CARD_SESSION_ACTIONS:
        raise Forbidden(f"页面不提供此操作：{action}", f"the page does not offer this action: {action}",
                        field="action")
    cards = _cards(request)
    result = cards.operator_action(card_id, action, _b64(body, "certificate"), _b64(body, "signature"),
                                   _text(body, "nonce"), user.actor())
    reply: dict[str, Any] = {"card": card_json(result.card, cards.s.clock()), "grant": None}
    if result.grant is not None:
        reply["grant"] = {"token": result.grant.token, "cardId": result.grant.card_id,
                          "action": result.grant.action, "serial": result.card.card_no,
                          "expiresAt": result.grant.expires_at.isoformat()}
    return reply


async def _release_unblock(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    card = _enterprise_card(request, user, request.path_params["card_id"])
    if _text(body, "serial").lower() != card.card_no.lower():
        raise InvalidInput("读卡器中的卡不是被授权解锁的操作员卡，请插入正确的卡",
                           "the card in the reader is not the operator card being unlocked; insert that card",
                           field="serial")
    cards = _cards(request)
    cryptogram = cards.release_unblock(card.id, _hex(body, "challenge"), _text(body, "grant"), user.actor())
    return {"cryptogram": cryptogram.hex()}


async def _release_renewal(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Legal card: its own window. Operator card: the legal card's ``grant`` (used up here)."""
    user = _card_user(request)
    card = _enterprise_card(request, user, request.path_params["card_id"])
    legal = card.kind is CardKind.LEGAL
    if _text(body, "serial").lower() != card.card_no.lower():
        raise InvalidInput("读卡器中的卡不是要延期的" + ("法人卡" if legal else "操作员卡") + "，请插入正确的卡",
                           "the card in the reader is not the " + ("legal" if legal else "operator")
                           + " card being renewed; insert that card", field="serial")
    cards = _cards(request)
    challenge, public_key = _hex(body, "challenge"), _b64(body, "publicKey")
    if legal:
        cryptogram, certificate = cards.release_renewal(card.id, challenge, public_key, user.actor())
    else:
        cryptogram, certificate = cards.release_operator_renewal(card.id, challenge, public_key,
                                                                 _text(body, "grant"), user.actor())
    return {"cryptogram": cryptogram.hex(), "certificate": base64.b64encode(certificate).decode("ascii")}


async def _confirm_renewal(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    user = _card_user(request)
    card = _enterprise_card(request, user, request.path_params["card_id"])
    cards = _cards(request)
    confirm = cards.confirm_renewal if card.kind is CardKind.LEGAL else cards.confirm_operator_renewal
    renewed = confirm(card.id, _b64(body, "certificate"), user.actor())
    return {"card": card_json(renewed, cards.s.clock())}


async def _report_status(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """cards.js passes on what the agent read from the card in the reader (``eport-card_Status``)."""
    user = _card_user(request)
    tries, initial = body.get("triesLeft"), body.get("pinIsInitial")
    if not isinstance(tries, int) or isinstance(tries, bool) or not 0 <= tries <= 15:
        raise InvalidInput("triesLeft 须为 0 至 15 的整数", "triesLeft must be a whole number from 0 to 15",
                           field="triesLeft")
    if not isinstance(initial, bool):
        raise InvalidInput("pinIsInitial 须为 true 或 false", "pinIsInitial must be true or false",
                           field="pinIsInitial")
    cards = _cards(request)
    card = cards.report_status(_text(body, "certNo"), initial, tries, user.actor())
    return {"card": card_json(card, cards.s.clock())}


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

__all__ = ["agent_origin_csp", "allowed_actions", "card_json", "card_service_from_settings",
           "json_endpoint", "pki_routes", "routes"]
