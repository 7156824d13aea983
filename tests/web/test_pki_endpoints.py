"""``/pki/crl.der`` serves the published CRL with HTTP validators, the same bytes to every download and
every web process until a certificate's status changes; ``/pki/ocsp`` leaves the reply cache alone."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from starlette.testclient import TestClient
from webkit import Clock, make_services

from core.pki import revocation
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import generate_key
from core.services import Services
from core.services.cards import CardKeys
from core.web.app import create_app

PASSPHRASE = "correct horse battery staple"
SUBJECT = HolderSubject("深圳市某某进出口有限公司", "91440300MA5EXAMPLA", "张三", "4403**********1234")


@pytest.fixture
def with_ca(store, tmp_path: Path) -> Services:
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试CA", PASSPHRASE, "ec-p256")
    return attrs.evolve(make_services(store, tmp_path, Clock()), card_keys=CardKeys(ca, bytes(range(32))))


def _issue(services: Services) -> x509.Certificate:
    ca = services.cards.keys.ca
    with services.store.transaction() as tx:
        return ca.issue(profile_for("legal", ProfileSettings(base_url="http://testserver"), "ec-p256"), SUBJECT,
                        public_key=generate_key("ec-p256").public_key(), registry=tx.certificates)


def _number(der: bytes) -> int:
    return x509.load_der_x509_crl(der).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_crl_downloads_get_the_published_crl_with_validators(with_ca: Services):
    cert = _issue(with_ca)
    first_process, second_process = TestClient(create_app(with_ca)), TestClient(create_app(with_ca))
    got = first_process.get("/pki/crl.der")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(got.content)
    assert _number(got.content) == 1 and len(crl) == 0
    assert got.headers["etag"] == '"crl-1"'
    assert parsedate_to_datetime(got.headers["last-modified"]) == crl.last_update_utc
    assert parsedate_to_datetime(got.headers["expires"]) == crl.next_update_utc
    max_age = int(got.headers["cache-control"].split("max-age=")[1])
    assert 0 < max_age <= (crl.next_update_utc - datetime.now(UTC)).total_seconds() + 1
    for client in (first_process, second_process, first_process):  # nine downloads used to make nine numbers
        assert client.get("/pki/crl.der").content == got.content
    assert first_process.get("/pki/crl.der", headers={"If-None-Match": '"crl-1"'}).status_code == 304
    since = got.headers["last-modified"]
    assert second_process.get("/pki/crl.der", headers={"If-Modified-Since": since}).status_code == 304
    assert second_process.get("/pki/crl.der", headers={"If-None-Match": '"crl-0"'}).status_code == 200

    with with_ca.store.transaction() as tx:  # revoked, as the CLI or a card move does
        revocation.revoke(tx.certificates, serial_hex(cert.serial_number), "key_compromise")
    for client in (second_process, first_process):  # both processes see the new CRL at once
        listed = client.get("/pki/crl.der")
        assert _number(listed.content) == 2 and listed.headers["etag"] == '"crl-2"'
        assert [e.serial_number for e in x509.load_der_x509_crl(listed.content)] == [cert.serial_number]
    assert first_process.get("/pki/crl.der", headers={"If-None-Match": '"crl-1"'}).status_code == 200


def test_ocsp_requests_leave_kept_replies_alone(with_ca: Services):
    cert = _issue(with_ca)
    ca = with_ca.cards.keys.ca
    client = TestClient(create_app(with_ca))
    watch = with_ca.store.changes
    if with_ca.store.dialect == "postgresql":
        assert watch.wait_listening(30)  # type: ignore[attr-defined]
    before = watch.token()
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.certificate, hashes.SHA1()).build()
    for _ in range(3):
        answered = client.post("/pki/ocsp", content=request.public_bytes(serialization.Encoding.DER),
                               headers={"Content-Type": "application/ocsp-request"})
        assert ocsp.load_der_ocsp_response(answered.content).certificate_status is ocsp.OCSPCertStatus.GOOD
    assert watch.token() == before is not None
