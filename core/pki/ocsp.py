"""An OCSP responder (RFC 6960) as a Starlette ASGI app; the web front mounts it at ``/pki/ocsp``.

POST carries the DER request as the body; GET carries it base64-encoded in the path. Answers are
signed by the CA itself (no delegated responder), so clients verify them with the issuer certificate.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.registry import RegistryFactory
from core.pki.revocation import reason_flag

CONTENT_TYPE = "application/ocsp-response"
MAX_REQUEST_BYTES = 16 * 1024  # a single-certificate request is a few hundred bytes


def _key_bits(key: object) -> bytes:
    """The subjectPublicKey BIT STRING contents, which OCSP's issuerKeyHash is taken over."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    raise TypeError(f"unsupported CA key {type(key).__name__}")


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


class OcspResponder:
    """Turns a DER OCSP request into a DER OCSP response. Usable without HTTP (tests, benchmarks)."""

    def __init__(self, ca: CertificateAuthority, registry_factory: RegistryFactory,
                 next_update_hours: int = 24) -> None:
        self.ca = ca
        self.registry_factory = registry_factory
        self.next_update = timedelta(hours=next_update_hours)
        self._name_der = ca.certificate.subject.public_bytes()
        self._key_bits = _key_bits(ca.certificate.public_key())

    def _issued_here(self, request: ocsp.OCSPRequest) -> bool:
        algorithm = request.hash_algorithm
        return (request.issuer_name_hash == _digest(algorithm, self._name_der)
                and request.issuer_key_hash == _digest(algorithm, self._key_bits))

    def respond(self, der: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(der)
            request.serial_number  # noqa: B018 - parse errors surface lazily; fail here, not later
        except (ValueError, NotImplementedError):  # malformed, or several certificates in one request
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if not self._issued_here(request):
            return self._unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

        with self.registry_factory() as registry:
            record = registry.get(serial_hex(request.serial_number))
        now = datetime.now(UTC).replace(microsecond=0)
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
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
            builder = builder.add_extension(nonce.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        return self.ca.signer.sign_ocsp(builder).public_bytes(serialization.Encoding.DER)

    @staticmethod
    def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def ocsp_routes(respond: Callable[[bytes], bytes], prefix: str = "") -> list[Route]:
    """POST ``{prefix}`` (DER request body) and GET ``{prefix}/{base64 request}``, per RFC 6960, answered
    by ``respond`` (DER request -> DER response, e.g. :meth:`OcspResponder.respond`).

    With a prefix the POST route is the prefix itself, no trailing slash: certificates carry that exact
    URL, and OCSP clients do not follow redirects.
    """
    def answer(der: bytes) -> Response:
        return Response(respond(der), media_type=CONTENT_TYPE)

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
        return await run_in_threadpool(answer, der)

    return [Route(prefix or "/", post, methods=["POST"]), Route(f"{prefix}/{{encoded:path}}", get, methods=["GET"])]


def make_ocsp_app(ca: CertificateAuthority, registry_factory: RegistryFactory,
                  next_update_hours: int = 24) -> Starlette:
    """A stand-alone responder answering at ``/``."""
    return Starlette(routes=ocsp_routes(OcspResponder(ca, registry_factory, next_update_hours).respond))


__all__ = ["OcspResponder", "make_ocsp_app", "ocsp_routes"]
