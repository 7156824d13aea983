"""The web front with an SM2 deployment: the installed ``eportcard`` makes an SM2 CA and issues from an SM2 CSR,
``eportcard serve`` answers OCSP for SM2 certificates and serves an SM2-with-SM3 CRL, an SM2 legal card logs in
(its signature as the card gives it, DER, or as the client control gives it, r || s), and the demo's virtual
cards include an SM2 card."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509 import ocsp
from starlette.testclient import TestClient
from webkit import csrf_of

from core.cli import main
from core.hardware.driver import CardDriver
from core.hardware.keys import derive_admin_key
from core.hardware.profile import INITIAL_PIN, KeyAlgorithm
from core.hardware.transport import InProcessTransport
from core.hardware.virtual_card import VirtualCard
from core.model import Application
from core.pki import gm, sm2
from core.pki.ca import CertificateAuthority
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.cards import CardKeys, login_message
from core.services.cards.counter import Counter
from core.web.app import create_app

PASSPHRASE = "sm2 web tests passphrase 2026"
MASTER_SECRET = bytes(range(32))
STAFF = Actor(id="clerk", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))
DISTID = "distid:1234567812345678"


def _openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False,
                          timeout=60)


# ---- eportcard serve with an SM2 CA -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sm2_deployment(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    config = tmp_path / "eportcard.toml"
    runner = CliRunner()
    made = runner.invoke(main, ["-c", str(config), "init", "--region", "shenzhen", "--enable", "shenzhen"])
    assert made.exit_code == 0, made.output
    config.write_text(config.read_text(encoding="utf-8").replace('algorithm = "ec-p256"', 'algorithm = "sm2"'),
                      encoding="utf-8")
    env = {"EPORTCARD_CA_PASSPHRASE": PASSPHRASE}
    made = runner.invoke(main, ["-c", str(config), "ca", "init", "--name", "电子口岸某某数据分中心SM2 CA"], env=env)
    assert made.exit_code == 0, made.output
    made = runner.invoke(main, ["-c", str(config), "counter", "init-master"], env=env)
    assert made.exit_code == 0, made.output
    yield config, env


def _serve(config: Path, env: dict[str, str], port: int) -> subprocess.Popen[str]:
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    clean = {k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY", "EPORTCARD_CONFIG")}
    return subprocess.Popen([exe, "-c", str(config), "serve", "--port", str(port)], env=clean | env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60  # a bound on the wait, not a timing assertion
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve stopped: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("serve did not become ready")


def test_eportcard_serve_answers_ocsp_and_serves_the_crl_of_an_sm2_ca(sm2_deployment, tmp_path):
    config, env = sm2_deployment
    ca_dir = config.parent / "ca"
    assert "SM2-with-SM3" in _openssl("x509", "-in", ca_dir / "ca.cert.pem", "-noout", "-text").stdout
    (tmp_path / "card-key.pem").write_bytes(sm2.private_key_pem(sm2.generate_private_key()))
    assert _openssl("req", "-new", "-key", tmp_path / "card-key.pem", "-sm3", "-sigopt", DISTID, "-subj", "/CN=x",
                    "-out", tmp_path / "req.pem").returncode == 0
    issued = CliRunner().invoke(main, ["-c", str(config), "ca", "issue", "--csr", str(tmp_path / "req.pem"),
                                       "--kind", "legal", "--enterprise", "深圳市某某进出口有限公司",
                                       "--uscc", "91440300MA5EXAMPLA", "--holder", "张三",
                                       "--out", str(tmp_path / "card.pem")], env=env)
    assert issued.exit_code == 0, issued.output
    card = x509.load_pem_x509_certificate((tmp_path / "card.pem").read_bytes())
    assert card.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(config, env, port)
    try:
        _wait_ready(process, url)
        asked = _openssl("ocsp", "-issuer", ca_dir / "ca.cert.pem", "-cert", tmp_path / "card.pem", "-url",
                         f"{url}/pki/ocsp", "-noverify", "-resp_text", "-respout", tmp_path / "ocsp.der")
        assert "card.pem: good" in asked.stdout and "Signature Algorithm: SM2-with-SM3" in asked.stdout, asked
        answer = ocsp.load_der_ocsp_response((tmp_path / "ocsp.der").read_bytes())
        ca_certificate = x509.load_pem_x509_certificate((ca_dir / "ca.cert.pem").read_bytes())
        gm.verify_signature(gm.certificate_spki(ca_certificate), "sm2", answer.signature, answer.tbs_response_bytes)

        revoked = CliRunner().invoke(main, ["-c", str(config), "ca", "revoke", format(card.serial_number, "x"),
                                            "--reason", "key_compromise"], env=env)
        assert revoked.exit_code == 0, revoked.output
        asked = _openssl("ocsp", "-issuer", ca_dir / "ca.cert.pem", "-cert", tmp_path / "card.pem", "-url",
                         f"{url}/pki/ocsp", "-noverify", "-resp_text")
        assert "card.pem: revoked" in asked.stdout and "Reason: keyCompromise" in asked.stdout, asked

        crl = x509.load_der_x509_crl(httpx.get(f"{url}/pki/crl.der", timeout=30).content)
        assert crl.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID
        assert [entry.serial_number for entry in crl] == [card.serial_number]
        gm.verify_signature(gm.certificate_spki(ca_certificate), "sm2", crl.signature, crl.tbs_certlist_bytes)
    finally:
        process.terminate()
        process.wait(30)


# ---- card login with an SM2 legal card ----------------------------------------------------------------------


def _produced(services: Services) -> Application:
    app = make_enrol(41, "shenzhen", operators=0)
    me = Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)
    made = services.applications.create(attrs.evolve(app, id=""), me)
    made = services.applications.submit(made.id, me)
    made = services.applications.accept(made.id, STAFF)
    return services.applications.start_production(made.id, STAFF)


@pytest.fixture
def sm2_card(services: Services, tmp_path: Path) -> tuple[Services, CardDriver]:
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸SM2发卡CA", PASSPHRASE, "sm2")
    services = attrs.evolve(services, card_keys=CardKeys(ca, MASTER_SECRET))
    counter = services.cards.counter
    sm2_counter = Counter(services, counter.keys, attrs.evolve(counter.profiles, algorithm="sm2"))
    app = _produced(services)
    serial = "00c0ffee0000a041"
    card = VirtualCard.create(tmp_path / "legal.json", admin_key=derive_admin_key(MASTER_SECRET, serial),
                              serial=serial, device_no="", retry_limit=3)
    driver = CardDriver(InProcessTransport(card)).connect()
    sm2_counter.personalize(app.id, 0, driver, STAFF, device_no="4100000000001")
    assert driver.card_info().key_algorithm is KeyAlgorithm.SM2
    return services, driver


def _login(client: TestClient, driver: CardDriver, raw: bool) -> tuple[int, dict]:
    token = csrf_of(client, "/portal/card-login")
    challenge = client.post("/portal/card-login/challenge", json={}, headers={"x-csrf-token": token}).json()
    signature = driver.sign(INITIAL_PIN, login_message(challenge["nonce"]).encode("utf-8"))
    if raw:
        signature = sm2.to_raw(signature)  # as cus-sec_SpcSignRandom hands it to a page
    body = {"nonce": challenge["nonce"], "signature": base64.b64encode(signature).decode(),
            "certificate": base64.b64encode(driver.read_certificate()).decode()}
    reply = client.post("/portal/card-login", json=body, headers={"x-csrf-token": token})
    return reply.status_code, reply.json()


@pytest.mark.parametrize("raw", [False, True], ids=["der", "r-s"])
def test_an_sm2_legal_card_logs_in(sm2_card, raw):
    services, driver = sm2_card
    with TestClient(create_app(services), base_url="http://testserver") as client:
        status, body = _login(client, driver, raw)
        assert status == 200 and body["ok"] is True, body
        assert 'data-card-session="yes"' in client.get("/portal/cards").text


def test_a_forged_sm2_login_signature_is_refused(sm2_card):
    services, driver = sm2_card
    with TestClient(create_app(services), base_url="http://testserver") as client:
        token = csrf_of(client, "/portal/card-login")
        challenge = client.post("/portal/card-login/challenge", json={}, headers={"x-csrf-token": token}).json()
        signature = bytearray(sm2.to_raw(driver.sign(INITIAL_PIN, login_message(challenge["nonce"]).encode())))
        signature[5] ^= 0x01
        reply = client.post("/portal/card-login", headers={"x-csrf-token": token}, json={
            "nonce": challenge["nonce"], "signature": base64.b64encode(bytes(signature)).decode(),
            "certificate": base64.b64encode(driver.read_certificate()).decode()})
        assert reply.status_code == 403
        error = reply.json()["error"]
        assert error["field"] == "signature" and error["zh"] and error["en"]
        assert client.get("/portal/cards", follow_redirects=False).status_code != 200


# ---- the demo ----------------------------------------------------------------------------------------------


def test_the_demo_cards_include_an_sm2_card(tmp_path, monkeypatch):
    from core.web.demo import build_demo

    monkeypatch.delenv("EPORTCARD_CA_PASSPHRASE", raising=False)
    services, _logins, _ca = build_demo(tmp_path / "demo")
    try:
        state = json.loads((tmp_path / "demo" / "cards" / "sm2.json").read_text(encoding="utf-8"))
        assert state["key_algorithm"] == KeyAlgorithm.SM2
        certificate = x509.load_der_x509_certificate(base64.b64decode(state["certificate"]))
        assert gm.is_sm2_certificate(certificate)
        card = VirtualCard.load(tmp_path / "demo" / "cards" / "sm2.json")
        driver = CardDriver(InProcessTransport(card)).connect()
        sm2.verify(gm.certificate_public_key(certificate), driver.sign(INITIAL_PIN, b"demo"), b"demo")
        with services.store.transaction(readonly=True) as tx:
            record = tx.certificates.get(format(certificate.serial_number, "x"))
        assert record is not None and record.status == "good"
    finally:
        services.store.dispose()
