"""Publishing the CA's CRL: signed when the certificates' statuses changed or it is half-way to its
``nextUpdate``, then served as published, to every web process, until one of those happens again.

A download used to sign a new CRL each time (1.6 s at 100,000 entries, and a new CRL number per
GET). Now the number moves only when the list is re-signed (RFC 5280 §5.2.3: the CRL number is a
monotonically increasing sequence number *for a given CRL scope and issuer*, so a number that moves
without a change of content tells relying parties nothing). Who publishes: whoever finds the newest
one stale (the web front on a download, the ``crl_refresh`` job, ``eportcard ca crl``); two
processes doing it at once sign the same number, the database keeps the first and the other one
serves it. The entries are read in a read-only transaction and signed outside any transaction, so
a large CRL never holds a write lock while it is signed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization

from core.pki.ca import CertificateAuthority
from core.pki.crl import last_crl_number, sign_crl
from core.store import Store
from core.store.records import PublishedCrl


def refresh_at(crl: PublishedCrl) -> datetime:
    """When a published CRL is re-signed even if nothing changed: half-way to its ``nextUpdate``, so a
    relying party never fetches one with less than half its validity left."""
    return crl.this_update + (crl.next_update - crl.this_update) / 2


def is_current(crl: PublishedCrl, mark: int, now: datetime) -> bool:
    """Whether ``crl`` still lists every certificate on hold or revoked (``mark`` is unchanged) and is
    not yet due to be re-signed."""
    return crl.mark == mark and now < refresh_at(crl)


class CrlPublisher:
    """The published CRL of one CA and database; keep one per process (it keeps the newest DER)."""

    def __init__(self, store: Store, ca: CertificateAuthority, hours: int,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._ca = ca
        self._hours = hours
        self._clock = clock
        self._kept: PublishedCrl | None = None  # the newest one this process has seen, with its DER
        self._publishing = threading.Lock()  # one signature at a time in this process

    def current(self) -> PublishedCrl:
        """The newest published CRL while it is current; else a new one, published now."""
        found = self._newest()
        if found is not None:
            return found
        with self._publishing:
            return self._publish(self._hours, force=False)

    def publish(self, hours: int | None = None) -> PublishedCrl:
        """Sign and publish a new CRL now, current or not (``eportcard ca crl``), valid ``hours``."""
        with self._publishing:
            return self._publish(hours or self._hours, force=True)

    def _newest(self) -> PublishedCrl | None:
        with self._store.transaction(readonly=True) as tx:
            mark = tx.crls.mark()
            latest = tx.crls.latest(with_der=False)
            if latest is None or not is_current(latest, mark, self._clock()):
                return None
            if self._kept is None or self._kept.number != latest.number:
                self._kept = tx.crls.latest(with_der=True)
        return self._kept

    def _publish(self, hours: int, force: bool) -> PublishedCrl:
        with self._store.transaction(readonly=True) as tx:
            # The mark first: a change between the reads then leaves this CRL stale (re-signed again),
            # never current without the change (on PostgreSQL each read has its own snapshot).
            mark = tx.crls.mark()
            latest = tx.crls.latest(with_der=False)
            if not force and latest is not None and is_current(latest, mark, self._clock()):
                self._kept = tx.crls.latest(with_der=True)  # another process published it meanwhile
                assert self._kept is not None
                return self._kept
            entries = tx.certificates.crl_rows()
        now = self._clock().replace(microsecond=0)
        # After the newest published, and after any this CA numbered in its folder before CRLs were published
        # in the database. Racing processes choose the same number: the database keeps one (below).
        number = max(latest.number if latest else 0, last_crl_number(self._ca.directory)) + 1
        crl = sign_crl(self._ca, entries, number, now, hours)
        published = PublishedCrl(number, now, now + timedelta(hours=hours), len(entries), mark,
                                 crl.public_bytes(serialization.Encoding.DER))
        with self._store.transaction() as tx:
            if not tx.crls.add(published):  # another process published this number first: serve theirs
                newest = tx.crls.latest(with_der=True)
                assert newest is not None
                published = newest
        self._kept = published
        return published


__all__ = ["CrlPublisher", "PublishedCrl", "is_current", "refresh_at"]
