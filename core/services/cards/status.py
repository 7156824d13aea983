"""What relying parties ask about the branch's certificates: a fresh CRL and OCSP answers."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from core.pki.crl import build_crl
from core.pki.ocsp import OcspResponder
from core.pki.registry import store_registry_factory
from core.services.cards.base import CardWork


class CertificateStatus(CardWork):
    def crl_der(self) -> bytes:
        """A CRL of every held and revoked certificate, signed now (DER)."""
        with store_registry_factory(self.s.store)() as registry:
            crl = build_crl(self.ca, registry, next_update_hours=self.s.settings.pki.crl_hours)
        return crl.public_bytes(serialization.Encoding.DER)

    def ocsp(self, request_der: bytes) -> bytes:
        """The signed OCSP response (DER) to a DER request; malformed or foreign requests get the
        unsuccessful statuses RFC 6960 names."""
        responder = OcspResponder(self.ca, store_registry_factory(self.s.store), self.s.settings.pki.crl_hours)
        return responder.respond(request_der)


__all__ = ["CertificateStatus"]
