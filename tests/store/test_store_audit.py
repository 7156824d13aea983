"""The audit trail: hash-chained, append-only, and free of PII and PINs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from core.store import GENESIS_HASH, Store
from core.store.audit import entry_hash
from core.store.tables import audit
from core.store.testing import drop_audit_triggers

FULL_ID = "440902199001011234"


def _fill(store: Store, n: int = 5) -> None:
    with store.transaction() as tx:
        for i in range(1, n + 1):
            tx.audit.append("staff:王", "accept", "application", f"A{i}", {"step": i, "note": "ok"})


def test_entries_chain_from_genesis(store: Store):
    with store.transaction() as tx:
        first = tx.audit.append("ent:李四", "submit", "application", "A1", {"business": "enrol"})
        second = tx.audit.append("staff:王", "accept", "application", "A1", {})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert first.hash == entry_hash(GENESIS_HASH, 1, first.at, "ent:李四", "submit", "application", "A1",
                                    {"business": "enrol"})
    with store.transaction() as tx:
        assert tx.audit.for_entity("application", "A1") == [first, second]
    report = store.audit_verify()
    assert (report.ok, report.checked, report.problems) == (True, 2, [])


def test_empty_trail_verifies(store: Store):
    assert store.audit_verify().ok


@pytest.mark.parametrize("statement", [
    update(audit).where(audit.c.seq == 2).values(actor="someone else"),
    delete(audit).where(audit.c.seq == 2),
    delete(audit),
])
def test_update_and_delete_are_refused(store: Store, statement):
    _fill(store, 3)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(statement)
    assert store.audit_verify().ok


def test_truncate_is_refused_on_postgres(store: Store):
    if store.dialect != "postgresql":
        return  # SQLite has no TRUNCATE; DELETE is covered above
    _fill(store, 2)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit"))


def test_edited_row_is_detected(store: Store):
    _fill(store)
    drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 3).values(payload='{"note":"ok","step":99}'))
    report = store.audit_verify()
    assert not report.ok and report.checked == 5
    assert report.problems == ["row 3: content does not match its hash (edited)"]


def test_edited_actor_is_detected(store: Store):
    _fill(store)
    drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 1).values(actor="staff:nobody"))
    assert store.audit_verify().problems == ["row 1: content does not match its hash (edited)"]


def test_deleted_row_is_detected(store: Store):
    _fill(store)
    drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq == 2))
    report = store.audit_verify()
    assert not report.ok and report.checked == 4
    assert any("rows 2..2 are missing" in p for p in report.problems)
    assert any(p.startswith("row 3: prev_hash") for p in report.problems)


def test_rows_cut_off_the_end_are_detected(store: Store):
    _fill(store)
    drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit).where(audit.c.seq >= 4))
    report = store.audit_verify()
    assert not report.ok and report.checked == 3
    assert report.problems and "audit_head records row 5" in report.problems[0]


def test_forged_row_with_a_valid_hash_is_detected(store: Store):
    """Even a forger who recomputes the hash is caught: the head does not know the row."""
    _fill(store, 2)
    with store.engine.connect() as conn:
        last = conn.execute(select(audit).where(audit.c.seq == 2)).one()
    forged = {"seq": 3, "at": last.at, "actor": "staff:王", "action": "approve", "entity": "application",
              "entity_id": "A9", "payload": "{}", "prev_hash": last.hash}
    forged["hash"] = entry_hash(last.hash, 3, last.at, "staff:王", "approve", "application", "A9", {})
    with store.engine.begin() as conn:
        conn.execute(insert(audit).values(**forged))
    report = store.audit_verify()
    assert not report.ok and report.checked == 3
    assert "audit_head records row 2" in report.problems[0]


def test_payload_never_holds_id_numbers_phones_or_pins(store: Store):
    payload = {
        "holder": {"name": "张三", "id_number": FULL_ID, "phone": "13812345678"},
        "pin": "12345678",
        "new_pin": "87654321",
        "note": f"经办人身份证 {FULL_ID} 已核验",
        "items": [{"id_number": "44090219920202345X"}],
    }
    with store.transaction() as tx:
        entry = tx.audit.append("ent:张三", "change_pin", "card", "C1", payload)
    assert entry.payload["holder"] == {"name": "张三", "id_number": "440902********1234",
                                       "phone": "138****5678"}
    assert entry.payload["pin"] == entry.payload["new_pin"] == "[redacted]"
    assert entry.payload["items"][0]["id_number"] == "440902********345X"
    with store.engine.connect() as conn:
        raw = conn.execute(select(audit.c.payload)).scalar_one()
    for secret in (FULL_ID, "13812345678", "12345678", "87654321", "44090219920202345X"):
        assert secret not in raw
    assert json.loads(raw) == entry.payload
    assert store.audit_verify().ok
