"""Published CRLs and kept OCSP answers over a real store (SQLite and PostgreSQL).

A CRL is signed when a certificate's status changed or it is half-way to its nextUpdate, never per
download, and its number moves only then (RFC 5280 §5.2.3). OCSP only reads: no write lock, no change
token moves, and an answer without a nonce is sent again while the status it states holds.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT

from core.pki import revocation
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.ocsp import OcspResponder
from core.pki.profiles import profile_for
from core.pki.registry import store_registry_factory
from core.pki.signer import generate_key
from core.services.crl_publication import CrlPublisher
from core.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path_factory.mktemp("ca"), "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")


def _issue(store: Store, ca: CertificateAuthority) -> x509.Certificate:
    with store.transaction() as tx:
        return ca.issue(profile_for("legal", SETTINGS, "ec-p256"), SUBJECT,
                        public_key=generate_key("ec-p256").public_key(), registry=tx.certificates)


def _revoke(store: Store, cert: x509.Certificate, reason: str = "key_compromise") -> None:
    with store.transaction() as tx:
        revocation.revoke(tx.certificates, serial_hex(cert.serial_number), reason)


def _number(der: bytes) -> int:
    return x509.load_der_x509_crl(der).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def _serials(der: bytes) -> set[int]:
    return {entry.serial_number for entry in x509.load_der_x509_crl(der)}


def test_crl_is_signed_once_per_change_and_its_number_moves_only_then(store: Store, ca):
    clock = Clock()
    publisher = CrlPublisher(store, ca, 24, clock)
    first = publisher.current()
    assert first.number == 1 and first.entries == 0 and _serials(first.der) == set()
    for _ in range(5):  # downloads: the same CRL, byte for byte
        again = publisher.current()
        assert (again.number, again.der) == (first.number, first.der)
    cert = _issue(store, ca)
    assert publisher.current().number == 1  # a new good certificate changes no CRL
    _revoke(store, cert)
    second = publisher.current()
    assert second.number == 2 and _number(second.der) == 2 and _serials(second.der) == {cert.serial_number}
    assert x509.load_der_x509_crl(second.der).is_signature_valid(ca.certificate.public_key())
    # Another process (another publisher on the same database) serves the same published CRL.
    other = CrlPublisher(store, ca, 24, clock).current()
    assert (other.number, other.der) == (second.number, second.der)


def test_crl_is_signed_again_half_way_to_its_next_update(store: Store, ca):
    clock = Clock()
    publisher = CrlPublisher(store, ca, 24, clock)
    first = publisher.current()
    clock.now += timedelta(hours=11, minutes=59)
    assert publisher.current().number == first.number
    clock.now += timedelta(minutes=2)  # past 12 of its 24 hours
    renewed = publisher.current()
    assert renewed.number == first.number + 1 and renewed.this_update > first.this_update


def test_a_hold_and_its_release_each_make_the_crl_stale(store: Store, ca):
    publisher = CrlPublisher(store, ca, 24)
    cert = _issue(store, ca)
    serial = serial_hex(cert.serial_number)
    publisher.current()
    with store.transaction() as tx:
        revocation.hold(tx.certificates, serial)
    held = publisher.current()
    assert _serials(held.der) == {cert.serial_number}
    with store.transaction() as tx:
        revocation.release(tx.certificates, serial)
    released = publisher.current()
    assert released.number == held.number + 1 and _serials(released.der) == set()


def test_publishers_racing_publish_one_crl(store: Store, ca):
    """Processes finding the CRL stale at once sign the same number; the database keeps one, and every
    one of them serves that one."""
    publishers = [CrlPublisher(store, ca, 24) for _ in range(4)]
    start = threading.Barrier(len(publishers))
    found: list = []

    def publish(publisher: CrlPublisher) -> None:
        start.wait()
        found.append(publisher.current())

    threads = [threading.Thread(target=publish, args=(p,)) for p in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = _published(store)
    assert [number for number, _ in published] == [1]
    assert {(f.number, f.der) for f in found} == set(published)


def _published(store: Store) -> list[tuple[int, bytes]]:
    from core.store.tables import crls

    with store.engine.connect() as conn:
        return [(r.number, bytes(r.der)) for r in conn.execute(crls.select().order_by(crls.c.number))]


def test_numbers_continue_after_a_ca_folder_counter(store: Store, ca, tmp_path):
    """A CA that numbered CRLs in its folder before they were published in the database goes on from there."""
    folder = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    (folder.directory / "crl_number").write_text("7\n")
    assert CrlPublisher(store, folder, 24).current().number == 8


def test_forced_publication_numbers_after_the_newest(store: Store, ca):
    publisher = CrlPublisher(store, ca, 24)
    assert publisher.current().number == 1
    forced = publisher.publish(hours=48)
    assert forced.number == 2 and forced.next_update - forced.this_update == timedelta(hours=48)
    assert publisher.current().number == 2  # still current: nothing changed


# ---- OCSP ----------------------------------------------------------------------------------------------------

def _request(ca: CertificateAuthority, cert: x509.Certificate, nonce: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.certificate, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _responder(store: Store, ca: CertificateAuthority, clock=None) -> OcspResponder:
    return OcspResponder(ca, store_registry_factory(store, readonly=True), 24,
                         status_of=store.quick.certificate_status, clock=clock or Clock())


def test_ocsp_reads_without_the_write_lock_and_moves_no_change_token(store: Store, ca, tmp_path):
    cert = _issue(store, ca)
    responder = _responder(store, ca)
    watch = store.changes
    if store.dialect == "postgresql":
        assert watch.wait_listening(30)  # type: ignore[attr-defined]
    before = watch.token()
    blocker = None
    if store.dialect == "sqlite":  # another writer holds the write lock all along
        import sqlite3

        blocker = sqlite3.connect(store.engine.url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
    try:
        answer = ocsp.load_der_ocsp_response(responder.respond(_request(ca, cert, nonce=b"n" * 16)))
    finally:
        if blocker is not None:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert watch.token() == before is not None


def test_ocsp_answers_are_kept_while_the_status_holds(store: Store, ca):
    cert = _issue(store, ca)
    clock = Clock()
    responder = _responder(store, ca, clock)
    plain = _request(ca, cert)
    first = responder.answer(plain)
    assert first.cacheable and responder.answer(plain).der == first.der  # sent again, not signed again
    with_nonce = [responder.answer(_request(ca, cert, nonce=bytes([n]) * 16)) for n in (1, 2)]
    assert not any(a.cacheable for a in with_nonce) and with_nonce[0].der != with_nonce[1].der
    nonce = ocsp.load_der_ocsp_response(with_nonce[1].der).extensions.get_extension_for_class(x509.OCSPNonce)
    assert nonce.value.nonce == bytes([2]) * 16
    _revoke(store, cert)
    revoked = ocsp.load_der_ocsp_response(responder.answer(plain).der)
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.key_compromise
    kept = responder.answer(plain).der
    clock.now += timedelta(hours=12, seconds=1)  # past half its validity: signed afresh
    renewed = responder.answer(plain)
    assert renewed.der != kept and renewed.produced_at == clock.now.replace(microsecond=0)


def test_ocsp_get_answers_carry_caching_headers(store: Store, ca):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from core.pki.ocsp import ocsp_routes

    cert = _issue(store, ca)
    client = TestClient(Starlette(routes=ocsp_routes(_responder(store, ca).answer, prefix="/pki/ocsp")))
    import base64

    encoded = base64.b64encode(_request(ca, cert)).decode()
    got = client.get(f"/pki/ocsp/{encoded}")
    assert got.status_code == 200 and got.headers["content-type"] == "application/ocsp-response"
    assert got.headers["cache-control"].startswith("max-age=") and "public" in got.headers["cache-control"]
    assert {"etag", "last-modified", "expires"} <= set(got.headers)
    nonce = base64.b64encode(_request(ca, cert, nonce=b"x" * 16)).decode()
    assert client.get(f"/pki/ocsp/{nonce}").headers["cache-control"] == "no-store"
    posted = client.post("/pki/ocsp", content=_request(ca, cert))
    assert posted.status_code == 200 and "cache-control" not in posted.headers


def test_ocsp_reads_a_status_again_only_once_a_certificate_changed(store: Store, ca, tmp_path):
    """While the store's change token for certificates stands still, a status read before still holds; a
    revocation by another process (another engine on the same database) moves it, and the next answer
    says revoked."""
    import time

    from core.store.testing import other_store

    cert = _issue(store, ca)
    watch = store.changes
    if store.dialect == "postgresql":
        assert watch.wait_listening(30)  # type: ignore[attr-defined]
    reads: list[str] = []

    def counted(serial: str):
        reads.append(serial)
        return store.quick.certificate_status(serial)

    responder = OcspResponder(ca, store_registry_factory(store, readonly=True), 24, status_of=counted,
                              changes=lambda: watch.token("certificates"))
    for n in range(3):  # nonces: each answer signed afresh, the status read once
        answer = ocsp.load_der_ocsp_response(responder.answer(_request(ca, cert, nonce=bytes([n]) * 16)).der)
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert len(reads) == 1
    before = watch.token("certificates")
    with other_store(store, tmp_path / "other") as other:
        _revoke(other, cert)
    deadline = time.monotonic() + 30  # the notification crosses from the other engine's commit
    while watch.token("certificates") == before:
        assert time.monotonic() < deadline, "the change token never moved"
        time.sleep(0.01)
    answer = ocsp.load_der_ocsp_response(responder.answer(_request(ca, cert, nonce=b"z" * 16)).der)
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED and len(reads) == 2
