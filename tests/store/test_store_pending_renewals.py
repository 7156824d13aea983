"""Renewals released to a card (new certificate on hold) but never confirmed are revoked after a while, by
``eportcard ca expire-renewals``; a frozen or lost card's own held certificate and young renewals are left
alone, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from store_samples import T0, make_card

from core.ca_cli import ca
from core.model import CardKind
from core.pki import revocation
from core.pki.registry import CertificateRecord
from core.store import Store, open_store

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _certificate(serial: str, card_id: str) -> CertificateRecord:
    return CertificateRecord(serial=serial, card_id=card_id, enterprise_uscc="91440300MA5FXXXX0A",
                             kind=CardKind.OPERATOR, subject="CN=李四", not_before=T0,
                             not_after=T0 + timedelta(days=3650))


def _fill(store: Store, now: datetime = NOW) -> None:
    """Card C1 (in force: aa; renewals bb released 10 days ago and cc yesterday, neither confirmed) and
    card C2 (frozen ten days ago: its own certificate dd on hold)."""
    with store.transaction() as tx:
        tx.cards.add(make_card("C1", serial="aa", device_no="8800000000001"))
        tx.cards.add(make_card("C2", serial="dd", device_no="8800000000002"))
        for serial, card in (("aa", "C1"), ("bb", "C1"), ("cc", "C1"), ("dd", "C2")):
            tx.certificates.add(_certificate(serial, card))
        revocation.hold(tx.certificates, "bb", now - timedelta(days=10))
        revocation.hold(tx.certificates, "cc", now - timedelta(days=1))
        revocation.hold(tx.certificates, "dd", now - timedelta(days=10))


def _statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.transaction(readonly=True) as tx:
        return {s: (r.status, r.reason) for s in ("aa", "bb", "cc", "dd") if (r := tx.certificates.get(s))}


def test_only_old_unconfirmed_renewals_are_revoked(store: Store):
    _fill(store)
    with store.transaction(readonly=True) as tx:
        assert [r.serial for r in tx.certificates.pending_renewals(NOW - timedelta(days=7))] == ["bb"]
        assert [r.serial for r in tx.certificates.pending_renewals(NOW)] == ["bb", "cc"]
    with store.transaction() as tx:
        expired = revocation.expire_pending_renewals(tx.certificates, NOW - timedelta(days=7), NOW)
    assert [(r.serial, r.status, r.reason) for r in expired] == [("bb", "revoked", "cessationOfOperation")]
    assert _statuses(store) == {"aa": ("good", None), "bb": ("revoked", "cessationOfOperation"),
                                "cc": ("hold", "certificateHold"), "dd": ("hold", "certificateHold")}
    with store.transaction() as tx:  # running again finds nothing more to do
        assert revocation.expire_pending_renewals(tx.certificates, NOW - timedelta(days=7), NOW) == []


def test_the_cli_revokes_them_and_says_so(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'eportcard.db'}"
    store = open_store(url, tmp_path / "blobs")
    try:
        store.upgrade()
        _fill(store, datetime.now(UTC))  # the command counts days back from the real clock
    finally:
        store.dispose()
    result = CliRunner().invoke(ca, ["expire-renewals", "--config", str(tmp_path / "absent.toml"), "--db", url,
                                     "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "bb revoked (cessationOfOperation): renewal of card C1 never confirmed" in result.output
    assert "cc revoked" not in result.output and "dd revoked" not in result.output
    assert "1 张未确认的延期证书已吊销" in result.output
    bad = CliRunner().invoke(ca, ["expire-renewals", "--config", str(tmp_path / "absent.toml"), "--db", url,
                                  "--days", "0"])
    assert bad.exit_code != 0 and "--days" in bad.output
