"""The official library's calling pattern in real Chromium, against the agent and a virtual card behind the
real pcscd (reader "Virtual PCD 00 01"): over ws from an official http page, over wss from an https page,
for every supported official method, with the failures answered with the official codes.

The page (pages/client.html + pages/eportclient_pattern.js) uses the official URLs unchanged; chromium's
``--host-resolver-rules`` maps them to this test's free ports. The wss run trusts the agent's local CA the
way a user would: ``eportcard agent trust`` fills the NSS database of chromium's (throwaway) HOME.
Without chromium, pcscd, vpcd or certutil this FAILS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Page
from websockets.sync.client import connect

from core.agent.methods import METHODS
from core.agent.tls import LocalTls
from core.hardware.profile import INITIAL_PIN

from .conftest import DEVICE_NO, ROOT, SUBJECT, AgentRig, personalise
from .pagekit import chromium, free_port, serving_pages
from .test_agent_ws import NEW_PIN, verify

pytestmark = pytest.mark.browser

OFFICIAL_WS = "127.0.0.1:61232"  # client.js: http: pages
OFFICIAL_WSS = "wss.singlewindow.cn:61231"  # client.js: every other page
OFFICIAL_HTTP_PAGE = "www.singlewindow.cn:80"  # an official origin on the agent's default allow-list
IN_DATA = '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">报关单 5301 20260302</ds:SignedInfo>'


@pytest.fixture
def card(agent_reader, tmp_path, ca) -> Iterator[AgentRig]:
    state = tmp_path / "card.json"
    rig = AgentRig("pcsc", state, personalise(state, ca, algorithm="rsa2048"))
    yield rig
    rig.stop()


def _call(page: Page, method: str, args: dict[str, Any] | None = None, *, frames: bool = False,
          block_limit: int | None = None) -> dict[str, Any]:
    """One call through the pattern; the result is what its callback got (``_args``) and the raw reply."""
    reply = page.evaluate("([m, a, f, l]) => call(m, a, f, l)", [method, args or {}, frames, block_limit])
    assert reply["raw"] is not None, f"no reply for {method}"
    raw = json.loads(reply["raw"])
    assert raw["_method"] == method and raw["_status"] == "00", raw
    return reply["result"]


def _ok(page: Page, method: str, args: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
    result = _call(page, method, args, **kwargs)
    assert result["Result"] is True and result["Error"] == [], (method, result)
    return result["Data"]


def _failed(page: Page, method: str, args: dict[str, Any] | None = None) -> tuple[str, str]:
    result = _call(page, method, args)
    assert result["Result"] is False and result["Data"] == [], (method, result)
    message, code = result["Error"]
    assert " / " in message, message  # Chinese / English
    return message, code


def exercise_every_method(page: Page, rig: AgentRig) -> None:
    """Each supported official method as a page calls it, then the failures with the codes pages test for."""
    cert = rig.certificate
    cert_no = format(cert.serial_number, "x")
    called: set[str] = set()

    def ok(method: str, args: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        called.add(method)
        return _ok(page, method, args, **kwargs)

    # The first call goes out before anything waited for the "open" push, with _id 0.
    assert ok("cus-sec_SpcGetCardID") == [DEVICE_NO]
    first_reply = json.loads(page.evaluate("EportClientPattern.seen.find((m) => m.includes('SpcGetCardID'))"))
    assert first_reply["_id"] == 0
    assert ok("ver")[0].startswith("eportcard agent")
    assert ok("cus-sec_SpcSetInitEnvPriority", {"szInitEnvPriority": "iKey"}) == []
    assert ok("cus-sec_SpcInitEnvEx") == []
    assert ok("cus-sec_SpcGetCertNo") == [cert_no]
    assert ok("cus-sec_SpcGetUName") == [SUBJECT.holder_name]
    assert ok("cus-sec_SpcGetEntName") == [SUBJECT.enterprise_name]
    assert ok("cus-sec_SpcGetEntID") == [SUBJECT.uscc]
    (pem,) = ok("cus-sec_SpcGetSignCertAsPEM")
    assert base64.b64decode(pem) == cert.public_bytes(serialization.Encoding.DER)
    (valid,) = ok("cus-sec_SpcGetValidTimeFromCert")
    assert valid["szEndTime"] == (cert.not_valid_after_utc + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
    assert ok("cus-sec_SpcGetValidTimeFromCert", {"cert": pem}) == [valid]
    assert ok("cus-sec_SpcEncodePEM", {"inData": "报关单"}) == [base64.b64encode("报关单".encode()).decode()]
    assert ok("cus-sec_SpcDecodePEMAsString", {"inData": base64.b64encode("报关单".encode()).decode()}) == ["报关单"]

    assert ok("cus-sec_SpcVerifyPIN", {"passwd": INITIAL_PIN}) == []
    assert ok("cus-sec_SpcVerifyPINAll", {"passwd": INITIAL_PIN}) == []
    assert ok("cus-sec_SpcChangePIN", {"oldPin": INITIAL_PIN, "newPin": NEW_PIN}) == []

    signature, number = ok("cus-sec_SpcSignDataAsPEM", {"inData": IN_DATA, "passwd": NEW_PIN})
    assert number == cert_no
    verify(cert, base64.b64decode(signature), IN_DATA.encode())
    assert ok("cus-sec_SpcVerifySignData", {"inData": IN_DATA, "signData": signature}) == []
    assert ok("cus-sec_SpcVerifySignData", {"inData": IN_DATA, "signData": signature, "certDataPEM": pem}) == []

    raw = "回执 CEB311 原文".encode()
    signature, _ = ok("cus-sec_SpcSignPemDataAsPem", {"inData": base64.b64encode(raw).decode(), "passwd": NEW_PIN})
    verify(cert, base64.b64decode(signature), raw)

    (digest,) = ok("cus-sec_SpcSHA1DigestAsPEM", {"szInfo": IN_DATA, "passwd": NEW_PIN})
    assert digest == hashlib.sha256(IN_DATA.encode()).hexdigest().upper()
    signature, _ = ok("cus-sec_SpcSignDataNoHashAsPEM", {"inData": digest, "passwd": NEW_PIN})
    verify(cert, base64.b64decode(signature), IN_DATA.encode())  # the digest of IN_DATA, signed as is
    assert ok("cus-sec_SpcVerifySignDataNoHash", {"inData": digest, "signData": signature}) == []

    random = "a3f1c09e77d2"
    signature, _ = ok("cus-sec_SpcSignRandom", {"random": random, "passwd": NEW_PIN})
    verify(cert, base64.b64decode(signature), random.encode())

    # Above the single-frame size: the request goes as BLOCKTXT blocks and is signed whole.
    big = IN_DATA + "报关单商品明细" * 40_000  # ~840 KB of UTF-8, several 120 KiB blocks
    signature, _ = ok("cus-sec_SpcSignDataAsPEM", {"inData": big, "passwd": NEW_PIN}, frames=True)
    verify(cert, base64.b64decode(signature), big.encode())
    assert page.evaluate("Object.keys(EportClientPattern.transfers).length") == 0  # finish freed the blocks
    assert ok("cus-sec_SpcClearEnv") == []

    offered = {m for m in METHODS if not m.startswith("eport-card_")}
    assert called == offered, f"not exercised in the browser: {sorted(offered - called)}"

    # -- failures, with the codes pages test for (docs/agent.md, "Error codes") ------------------------
    message, code = _failed(page, "cus-sec_SpcVerifyPIN", {"passwd": "11111111"})
    assert code == "Err:wrong_pin" and "还可尝试 2 次" in message and "2 tries left" in message
    assert _failed(page, "cus-sec_SpcSignDataAsPEM", {"passwd": NEW_PIN})[1] == "Err:Base50000"  # no inData
    assert _failed(page, "cus-sec_SpcGetEnvCertAsPEM")[1] == "Err:unsupported_method"
    # A frame that is not JSON still reaches the callback of the method it names.
    broken = page.evaluate("""() => new Promise((resolve) => EportClientPattern.sendRaw(
        '{"_method":"cus-sec_SpcGetCertNo","_id":77,"args":{', "cus-sec_SpcGetCertNo",
        (result, raw) => resolve({result, raw})))""")
    assert broken["result"]["Result"] is False and broken["result"]["Error"][1] == "Err:bad_request"
    assert json.loads(broken["raw"])["_id"] == 77

    rig.remove()
    message, code = _failed(page, "cus-sec_SpcGetCardID")
    assert code == "Err:Custom51590" and "51590" in message  # the login page's "insert a card" test
    rig.insert()
    assert _ok(page, "cus-sec_SpcGetCardID") == [DEVICE_NO]

    for _ in range(3):
        _failed(page, "cus-sec_SpcVerifyPIN", {"passwd": "11111111"})
    message, code = _failed(page, "cus-sec_SpcSignDataAsPEM", {"inData": IN_DATA, "passwd": NEW_PIN})
    assert code == "Err:card_blocked" and "锁定" in message and "locked" in message


def test_official_pattern_over_ws_from_an_official_http_page(card, tmp_path):
    """http://www.singlewindow.cn is on the default allow-list: no configuration, ws on :61232."""
    card.start(allowed_origins=())
    with serving_pages() as page_port, chromium(tmp_path / "home", {
            OFFICIAL_HTTP_PAGE: page_port, OFFICIAL_WS: card.background.agent.port}) as browser:
        page = browser.new_page()
        page.goto("http://www.singlewindow.cn/client.html")
        assert page.evaluate("EportClientPattern.url") == "ws://127.0.0.1:61232"
        exercise_every_method(page, card)


def _trust_as_a_user(home: Path, tls_dir: Path) -> None:
    run = subprocess.run(["eportcard", "agent", "trust", "--no-system", "--tls-dir", str(tls_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "HOME": str(home)})
    assert run.returncode == 0, run.stderr
    assert str(home / ".pki" / "nssdb") in run.stdout and "wss.singlewindow.cn" in run.stdout


def _page_context(tls: LocalTls) -> ssl.SSLContext:
    """The https page's server side: a localhost certificate from the same local CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    folder = tls.directory / "page"
    folder.mkdir()
    (folder / "cert.pem").write_bytes(tls.issue(("localhost",), key, datetime.now(UTC)).public_bytes(
        serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_official_pattern_over_wss_from_an_https_page(card, tmp_path):
    tls = LocalTls(tmp_path / "tls").ensure()
    home = tmp_path / "home"
    _trust_as_a_user(home, tls.directory)
    page_port = free_port()
    page_origin = f"https://localhost:{page_port}"  # the deployment's own web front, on allowed_origins
    card.start(allowed_origins=(page_origin,), tls=tls, tls_port=0)
    agent = card.background.agent
    with serving_pages(_page_context(tls)) as served, chromium(home, {
            f"localhost:{page_port}": served, OFFICIAL_WSS: agent.tls_port}) as browser:
        page = browser.new_page()
        page.goto(f"{page_origin}/client.html")
        assert page.evaluate("EportClientPattern.url") == "wss://wss.singlewindow.cn:61231"
        exercise_every_method(page, card)


def test_wss_fails_in_a_browser_that_does_not_trust_the_local_ca(card, tmp_path):
    """The control: the same page and agent, but a HOME whose NSS database never saw the CA."""
    tls = LocalTls(tmp_path / "tls").ensure()
    with serving_pages() as page_port:
        card.start(allowed_origins=(f"http://localhost:{page_port}",), tls=tls, tls_port=0)
        with chromium(tmp_path / "stranger", {OFFICIAL_WSS: card.background.agent.tls_port}) as browser:
            page = browser.new_page()
            page.goto(f"http://localhost:{page_port}/client.html")
            state = page.evaluate("""() => new Promise((resolve) => {
                const ws = new WebSocket("wss://wss.singlewindow.cn:61231");
                ws.onopen = () => resolve("open"); ws.onerror = () => resolve("error"); })""")
    assert state == "error"
    # The same agent answers a client that trusts the CA: the refusal was the browser's, not the agent's.
    context = ssl.create_default_context(cafile=str(tls.ca_path))
    with connect(f"wss://localhost:{card.background.agent.tls_port}", ssl=context, proxy=None) as ws:
        assert json.loads(ws.recv(timeout=10))["_method"] == "open"
def test_only_an_official_or_configured_origin_gets_through_in_the_browser(card, tmp_path):
    """A page of another site, served the same way, is refused by the agent before the upgrade."""
    card.start(allowed_origins=())
    with serving_pages() as page_port, chromium(tmp_path / "home", {
            "shop.example:80": page_port, OFFICIAL_WS: card.background.agent.port}) as browser:
        page = browser.new_page()
        page.goto("http://shop.example/client.html")
        state = page.evaluate("""() => new Promise((resolve) => {
            const ws = new WebSocket("ws://127.0.0.1:61232");
            ws.onopen = () => resolve("open"); ws.onerror = () => resolve("error"); })""")
        assert state == "error"
