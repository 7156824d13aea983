"""An SM2 card behind the agent, in-process and through pcscd: the official methods answer with exactly the
envelopes of the official library, and SM2 signatures come back as the client control returns them, r || s
(docs/agent.md, "SM2 cards"). OpenSSL checks them with the shell recipe of that section, run as written."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.pki import gm, sm2
from core.pki.ca import CertificateAuthority

from .conftest import PIN, ROOT, AgentRig, Client, personalise

IN_DATA = '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">报关单 SM2 测试</ds:SignedInfo>'
DOCS = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sm2_ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path_factory.mktemp("sm2-ca"), "电子口岸SM2发卡CA", "agent sm2 passphrase",
                                     "sm2")


@pytest.fixture
def sm2_rig(transport, tmp_path, sm2_ca):
    state = tmp_path / "sm2-card.json"
    rig = AgentRig(transport, state, personalise(state, sm2_ca, algorithm="sm2"))
    rig.start()
    yield rig
    rig.stop()


def _ok(client: Client, method: str, args: dict | None = None) -> list:
    reply = client.call(method, args)
    assert reply["Result"] is True and reply["Error"] == [], reply
    return reply["Data"]


def _documented_check(tmp_path: Path, certificate: x509.Certificate, signature_b64: str, data: str) -> bool:
    """docs/agent.md's recipe, run by bash as a reader would paste it."""
    section = DOCS[DOCS.index("## SM2 cards"):]
    script = re.search(r"```sh\n(.*?)```", section, re.S)
    assert script is not None
    (tmp_path / "card.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script.group(1)], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "SIGNATURE": signature_b64, "IN_DATA": data}, check=False)
    return result.returncode == 0 and "Signature Verified Successfully" in result.stdout


def test_sign_data_as_pem_returns_r_and_s_and_the_certificate_number(sm2_rig, tmp_path):
    client = Client(sm2_rig.url)
    try:
        signature_b64, cert_no = _ok(client, "cus-sec_SpcSignDataAsPEM", {"inData": IN_DATA, "passwd": PIN})
        raw = base64.b64decode(signature_b64, validate=True)
        assert len(signature_b64) == 88 and len(raw) == 64  # as the real SM2 card's reply
        assert cert_no == format(sm2_rig.certificate.serial_number, "x")
        (certificate_b64,) = _ok(client, "cus-sec_SpcGetSignCertAsPEM")
        certificate = x509.load_der_x509_certificate(base64.b64decode(certificate_b64))
        assert certificate == sm2_rig.certificate
        assert certificate.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID  # SM3WITHSM2 to tools
        assert _documented_check(tmp_path, certificate, signature_b64, IN_DATA)
        assert not _documented_check(tmp_path, certificate, signature_b64, IN_DATA + " ")
        assert _ok(client, "cus-sec_SpcVerifySignData", {"inData": IN_DATA, "signData": signature_b64}) == []
        der_form = base64.b64encode(sm2.from_raw(raw)).decode()
        assert _ok(client, "cus-sec_SpcVerifySignData", {"inData": IN_DATA, "signData": der_form}) == []
        refused = client.call("cus-sec_SpcVerifySignData", {"inData": IN_DATA + "!", "signData": signature_b64})
        assert refused["Result"] is False and refused["Error"][1] == "Err:signature_invalid"
        status = _ok(client, "eport-card_Status")[0]
        assert status["keyAlgorithm"] == "sm2" and status["certNo"] == cert_no
    finally:
        client.close()


def test_the_digest_and_no_hash_signing_of_an_sm2_card(sm2_rig):
    client = Client(sm2_rig.url)
    try:
        (digest,) = _ok(client, "cus-sec_SpcSHA1DigestAsPEM", {"szInfo": IN_DATA, "passwd": PIN})
        public_key = gm.certificate_public_key(sm2_rig.certificate)
        assert digest == sm2.signing_digest(public_key, IN_DATA.encode()).hex().upper() and len(digest) == 64
        signature_b64, _ = _ok(client, "cus-sec_SpcSignDataNoHashAsPEM", {"inData": digest, "passwd": PIN})
        raw = base64.b64decode(signature_b64)
        assert len(raw) == 64
        sm2.verify(public_key, raw, IN_DATA.encode())  # the same signature as over the data itself
        assert _ok(client, "cus-sec_SpcVerifySignDataNoHash", {"inData": digest, "signData": signature_b64}) == []
        other = sm2.signing_digest(public_key, b"another declaration").hex()
        refused = client.call("cus-sec_SpcVerifySignDataNoHash", {"inData": other, "signData": signature_b64})
        assert refused["Result"] is False and refused["Error"][1] == "Err:signature_invalid"
        random_signature, _ = _ok(client, "cus-sec_SpcSignRandom", {"random": "8f3a-login", "passwd": PIN})
        sm2.verify(public_key, base64.b64decode(random_signature), b"8f3a-login")
    finally:
        client.close()


def test_a_wrong_pin_on_an_sm2_card_signs_nothing(sm2_rig):
    client = Client(sm2_rig.url)
    try:
        reply = client.call("cus-sec_SpcSignDataAsPEM", {"inData": IN_DATA, "passwd": "12345678"})
        assert reply["Result"] is False and reply["Data"] == [] and reply["Error"][1] == "Err:wrong_pin"
        assert _ok(client, "eport-card_Status")[0]["triesLeft"] == 2
    finally:
        client.close()


@pytest.mark.browser
def test_the_official_library_pattern_signs_with_an_sm2_card_in_chromium(agent_reader, tmp_path, sm2_ca):
    """The official library's calling pattern (pages/eportclient_pattern.js) in Chromium, over ws from an official
    page, against an SM2 card behind the real pcscd: what a customs tool's page gets is r || s and the number."""
    from .pagekit import chromium, serving_pages
    from .test_agent_browser import OFFICIAL_HTTP_PAGE, OFFICIAL_WS, _ok

    state = tmp_path / "sm2-card.json"
    rig = AgentRig("pcsc", state, personalise(state, sm2_ca, algorithm="sm2"))
    rig.start(allowed_origins=())
    try:
        assert rig.background is not None
        with serving_pages() as page_port, chromium(tmp_path / "home", {
                OFFICIAL_HTTP_PAGE: page_port, OFFICIAL_WS: rig.background.agent.port}) as browser:
            page = browser.new_page()
            page.goto("http://www.singlewindow.cn/client.html")
            signature_b64, cert_no = _ok(page, "cus-sec_SpcSignDataAsPEM", {"inData": IN_DATA, "passwd": PIN})
            assert cert_no == format(rig.certificate.serial_number, "x")
            raw = base64.b64decode(signature_b64)
            assert len(raw) == 64
            public_key = gm.certificate_public_key(rig.certificate)
            sm2.verify(public_key, raw, IN_DATA.encode())
            (digest,) = _ok(page, "cus-sec_SpcSHA1DigestAsPEM", {"szInfo": IN_DATA, "passwd": PIN})
            no_hash, _ = _ok(page, "cus-sec_SpcSignDataNoHashAsPEM", {"inData": digest, "passwd": PIN})
            sm2.verify(public_key, base64.b64decode(no_hash), IN_DATA.encode())
            assert _documented_check(tmp_path, rig.certificate, no_hash, IN_DATA)
    finally:
        rig.stop()
