"""What relying parties ask about the branch's certificates: the published CRL and OCSP answers.

Both only read the registry (read-only transactions: no write lock, no change token moves). A web
process keeps one :meth:`crl_publisher` and one :meth:`ocsp_responder` for its life: they keep the
published CRL and the signed OCSP answers that can be sent again.
"""

from __future__ import annotations

from core.pki.ocsp import OcspResponder
from core.pki.registry import store_registry_factory
from core.services.cards.base import CardWork
from core.services.crl_publication import CrlPublisher
from core.store.records import PublishedCrl


class CertificateStatus(CardWork):
    def crl_publisher(self) -> CrlPublisher:
        return CrlPublisher(self.s.store, self.ca, self.s.settings.pki.crl_hours)  # real time: relying parties check it

    def published_crl(self) -> PublishedCrl:
        """The newest published CRL, re-signed first when a certificate's status changed since or it is
        half-way to its nextUpdate."""
        return self.crl_publisher().current()

    def crl_der(self) -> bytes:
        """:meth:`published_crl` as DER."""
        return self.published_crl().der

    def ocsp_responder(self) -> OcspResponder:
        store = self.s.store
        return OcspResponder(self.ca, store_registry_factory(store, readonly=True), self.s.settings.pki.crl_hours,
                             status_of=store.quick.certificate_status,
                             changes=lambda: store.changes.token("certificates"))

    def ocsp(self, request_der: bytes) -> bytes:
        """The signed OCSP response (DER) to a DER request; malformed or foreign requests get the
        unsuccessful statuses RFC 6960 names."""
        return self.ocsp_responder().respond(request_der)


__all__ = ["CertificateStatus"]
