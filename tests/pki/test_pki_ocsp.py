"""The OCSP responder, run with uvicorn on a free port and asked by `openssl ocsp`."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pki_helpers import SETTINGS, SUBJECT, openssl, write_pem

from core.pki import revocation
from core.pki.ca import serial_hex
from core.pki.ocsp import make_ocsp_app
from core.pki.profiles import profile_for
from core.pki.signer import generate_key


@contextmanager
def serve(app) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):  # wait for start-up; not a timing assertion
            if server.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("uvicorn did not start the OCSP responder")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def responder(cas, registry):
    _, issuing = cas
    with serve(make_ocsp_app(issuing, registry.factory())) as url:
        yield url


def _ask(tmp_path, cas, cert, url):
    root, issuing = cas
    result = openssl("ocsp", "-issuer", write_pem(tmp_path / "issuing.pem", issuing.certificate),
                     "-CAfile", write_pem(tmp_path / "root.pem", root.certificate),
                     "-cert", write_pem(tmp_path / "leaf.pem", cert), "-url", url, "-resp_text")
    return (result.stdout + result.stderr).decode()  # "Response verify OK" goes to stderr


def _issue(cas, registry, algorithm, record=True):
    _, issuing = cas
    return issuing.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT,
                         public_key=generate_key(algorithm).public_key(),
                         registry=registry if record else None)


def test_good_revoked_and_unknown(tmp_path, cas, registry, algorithm, responder):
    cert = _issue(cas, registry, algorithm)
    out = _ask(tmp_path, cas, cert, responder)
    assert "Response verify OK" in out
    assert "leaf.pem: good" in out

    revocation.revoke(registry, serial_hex(cert.serial_number), "key_compromise")
    out = _ask(tmp_path, cas, cert, responder)
    assert "Response verify OK" in out and "leaf.pem: revoked" in out
    assert "Reason: keyCompromise" in out

    stranger = _issue(cas, registry, algorithm, record=False)  # signed by the CA but never recorded
    out = _ask(tmp_path, cas, stranger, responder)
    assert "Response verify OK" in out and "leaf.pem: unknown" in out


def test_hold_answers_revoked_with_hold_reason_then_good_after_release(tmp_path, cas, registry, algorithm,
                                                                       responder):
    cert = _issue(cas, registry, algorithm)
    revocation.apply_card_action(registry, serial_hex(cert.serial_number), "freeze")
    out = _ask(tmp_path, cas, cert, responder)
    assert "leaf.pem: revoked" in out and "Reason: certificateHold" in out
    revocation.apply_card_action(registry, serial_hex(cert.serial_number), "unfreeze")
    assert "leaf.pem: good" in _ask(tmp_path, cas, cert, responder)


def test_get_form_and_nonce(cas, registry, algorithm, responder):
    _, issuing = cas
    cert = _issue(cas, registry, algorithm)
    request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuing.certificate, hashes.SHA256())
               .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
               .build())
    encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()
    reply = httpx.get(f"{responder}/{encoded}")
    assert reply.headers["content-type"] == "application/ocsp-response"
    response = ocsp.load_der_ocsp_response(reply.content)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert.serial_number
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce)
    assert nonce.value.nonce == b"0123456789abcdef"


def test_garbage_and_foreign_issuer_are_refused(tmp_path, cas, registry, algorithm, responder):
    reply = httpx.post(responder + "/", content=b"not an ocsp request")
    assert ocsp.load_der_ocsp_response(reply.content).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    root, _ = cas
    cert = _issue(cas, registry, algorithm)
    # Asking about our leaf but naming the root as issuer: this responder does not answer for the root.
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, root.certificate, hashes.SHA1()).build()
    reply = httpx.post(responder + "/", content=request.public_bytes(serialization.Encoding.DER))
    assert ocsp.load_der_ocsp_response(reply.content).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
