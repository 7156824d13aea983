"""An OCSP responder (RFC 6960) as a Starlette ASGI app; the web front mounts it at ``/pki/ocsp``.

POST carries the DER request as the body; GET carries it base64-encoded in the path. Answers are
signed by the CA itself (no delegated responder), so clients verify them with the issuer certificate.

The status is read on every request (read-only: no write lock, no change token moves), but a signed
answer is kept and sent again while the certificate's status is the one it states and it is younger
than half its validity: RFC 5019 §2.2.2 lets a responder answer from responses produced in advance,
and §6.2 has GET answers carry HTTP caching headers up to ``nextUpdate``. A request with a nonce
(RFC 6960 §4.4.1) is always signed afresh, with its nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.errors import Unavailable
from core.pki import gm
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.registry import RegistryFactory, RevocationEntry
from core.pki.revocation import reason_flag

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/ocsp-response"
MAX_REQUEST_BYTES = 16 * 1024  # a single-certificate request is a few hundred bytes
KEPT_ANSWERS = 50_000  # signed answers kept (a few hundred bytes each); a full store starts again empty

# The status of a certificate by its lowercase hex serial (None: never issued here).
StatusLookup = Callable[[str], RevocationEntry | None]


@frozen
class OcspAnswer:
    """A DER OCSP response and, for a successful one without a nonce, the times HTTP caches may use."""

    der: bytes
    produced_at: datetime | None = None
    next_update: datetime | None = None

    @property
    def cacheable(self) -> bool:
        return self.next_update is not None

    def headers(self, now: datetime) -> dict[str, str]:
        """RFC 5019 §6.2's caching headers for a GET answer (none when it may not be kept)."""
        if self.next_update is None or self.produced_at is None:
            return {"Cache-Control": "no-store"}
        left = max(0, int((self.next_update - now).total_seconds()))
        return {"Cache-Control": f"max-age={left}, public, no-transform, must-revalidate",
                "Last-Modified": format_datetime(self.produced_at, usegmt=True),
                "Expires": format_datetime(self.next_update, usegmt=True),
                "ETag": '"' + hashlib.sha1(self.der, usedforsecurity=False).hexdigest() + '"'}


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


class OcspResponder:
    """Turns a DER OCSP request into a DER OCSP response. Usable without HTTP (tests, benchmarks)."""

    def __init__(self, ca: CertificateAuthority, registry_factory: RegistryFactory,
                 next_update_hours: int = 24, status_of: StatusLookup | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 changes: Callable[[], Hashable | None] | None = None) -> None:
        """``changes``: a token that moves whenever any certificate's status may have changed, in any
        process (the store's change watch for ``certificates``; None: unknown). While it stays the same a
        status read before is still the status, so it is not read again."""
        self.ca = ca
        self.registry_factory = registry_factory
        self.next_update = timedelta(hours=next_update_hours)
        self._status_of = status_of or self._from_registry
        self._clock = clock
        self._changes = changes or (lambda: None)
        self._statuses: dict[str, tuple[Hashable, RevocationEntry | None]] = {}
        self._name_der = ca.certificate.subject.public_bytes()
        self._key_bits = gm.key_bits(gm.certificate_spki(ca.certificate))  # SM2 CAs too (core.pki.gm)
        self._issuer_hashes: dict[str, tuple[bytes, bytes]] = {}  # per hash algorithm: computed once
        self._kept: dict[Hashable, OcspAnswer] = {}
        self._lock = threading.Lock()

    def _from_registry(self, serial: str) -> RevocationEntry | None:
        with self.registry_factory() as registry:
            return registry.get(serial)

    def _status(self, serial: str) -> RevocationEntry | None:
        token = self._changes()  # before the read: a change meanwhile retires what is read
        known = self._statuses.get(serial)
        if token is not None and known is not None and known[0] == token:
            return known[1]
        status = self._status_of(serial)
        if token is not None:
            with self._lock:
                if len(self._statuses) >= KEPT_ANSWERS:
                    self._statuses.clear()
                self._statuses[serial] = (token, status)
        return status

    def _issued_here(self, request: ocsp.OCSPRequest) -> bool:
        algorithm = request.hash_algorithm
        hashes_here = self._issuer_hashes.get(algorithm.name)
        if hashes_here is None:
            hashes_here = (_digest(algorithm, self._name_der), _digest(algorithm, self._key_bits))
            self._issuer_hashes[algorithm.name] = hashes_here
        return (request.issuer_name_hash, request.issuer_key_hash) == hashes_here

    def respond(self, der: bytes) -> bytes:
        return self.answer(der).der

    def answer(self, der: bytes) -> OcspAnswer:
        """The answer to a DER request: unsuccessful for a malformed or foreign one, else signed (or kept)."""
        try:
            request = ocsp.load_der_ocsp_request(der)
            request.serial_number  # noqa: B018 - parse errors surface lazily; fail here, not later
        except (ValueError, NotImplementedError):  # malformed, or several certificates in one request
            return OcspAnswer(self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
        if not self._issued_here(request):
            return OcspAnswer(self._unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED))

        record = self._status(serial_hex(request.serial_number))
        try:
            nonce: x509.OCSPNonce | None = request.extensions.get_extension_for_class(x509.OCSPNonce).value
        except x509.ExtensionNotFound:
            nonce = None
        now = self._clock().replace(microsecond=0)
        key = (request.serial_number, request.hash_algorithm.name,
               None if record is None else (record.status, record.reason, record.revoked_at))
        if nonce is None:
            kept = self._kept.get(key)
            # Sent again while younger than half its validity (and its status, in the key, still holds).
            if kept is not None and kept.produced_at is not None and now < kept.produced_at + self.next_update / 2:
                return kept
        try:
            signed = self._sign(request, record, now, nonce)
        except Unavailable as exc:  # the CA key's token does not answer: RFC 6960 2.3 tryLater, not a 500
            log.warning("OCSP answered tryLater: %s", exc.en)
            return OcspAnswer(self._unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER))
        if nonce is not None:
            return OcspAnswer(signed)
        answer = OcspAnswer(signed, now, now + self.next_update)
        with self._lock:
            if len(self._kept) >= KEPT_ANSWERS:
                self._kept.clear()
            self._kept[key] = answer
        return answer

    def _sign(self, request: ocsp.OCSPRequest, record: RevocationEntry | None, now: datetime,
              nonce: x509.OCSPNonce | None) -> bytes:
        revocation_time: datetime | None = None
        reason: x509.ReasonFlags | None = None
        if record is None:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif record.status == "good":
            status = ocsp.OCSPCertStatus.GOOD
        else:  # held certificates answer "revoked" with reason certificateHold (RFC 6960 2.2)
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = record.revoked_at or now
            reason = reason_flag(record.reason)

        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + self.next_update,
            revocation_time=revocation_time,
            revocation_reason=reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.certificate)
        if nonce is not None:
            builder = builder.add_extension(nonce, critical=False)
        return self.ca.signer.sign_ocsp(builder).public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def ocsp_routes(respond: Callable[[bytes], bytes | OcspAnswer], prefix: str = "") -> list[Route]:
    """POST ``{prefix}`` (DER request body) and GET ``{prefix}/{base64 request}``, per RFC 6960, answered
    by ``respond`` (DER request -> DER response or :class:`OcspAnswer`, e.g. :meth:`OcspResponder.answer`).
    GET answers carry RFC 5019 §6.2's caching headers.

    With a prefix the POST route is the prefix itself, no trailing slash: certificates carry that exact
    URL, and OCSP clients do not follow redirects.
    """
    def reply(der: bytes, cached: bool = False) -> Response:
        found = respond(der)
        answer = found if isinstance(found, OcspAnswer) else OcspAnswer(found)
        headers = answer.headers(datetime.now(UTC)) if cached else None
        return Response(answer.der, media_type=CONTENT_TYPE, headers=headers)

    def answer(der: bytes) -> Response:
        return reply(der)

    # Registry look-ups (database I/O) and signing run in the thread pool, not on the event loop.
    async def post(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return answer(b"")
        return await run_in_threadpool(answer, body)

    async def get(request: Request) -> Response:
        encoded = request.path_params.get("encoded", "")
        try:
            der = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            der = b""
        return await run_in_threadpool(reply, der, True)

    return [Route(prefix or "/", post, methods=["POST"]), Route(f"{prefix}/{{encoded:path}}", get, methods=["GET"])]


def make_ocsp_app(ca: CertificateAuthority, registry_factory: RegistryFactory,
                  next_update_hours: int = 24) -> Starlette:
    """A stand-alone responder answering at ``/``."""
    return Starlette(routes=ocsp_routes(OcspResponder(ca, registry_factory, next_update_hours).respond))


__all__ = ["OcspAnswer", "OcspResponder", "StatusLookup", "make_ocsp_app", "ocsp_routes"]
