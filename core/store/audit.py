"""The hash-chained, append-only audit trail.

``hash = sha256(prev_hash + canonical JSON of [seq, at, actor, action, entity, entity_id, payload])``.
The chain proves rows were neither edited, inserted nor removed after the fact: an edited row no
longer matches its hash, a removed row leaves a gap and a broken ``prev_hash``, and rows cut off the
end disagree with ``audit_head``. Triggers (see the migration) refuse UPDATE and DELETE outright.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core.privacy import scrub
from core.store.records import AuditEntry, AuditReport
from core.store.tables import audit, audit_head

GENESIS_HASH = "0" * 64


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"audit payload value of type {type(value).__name__} is not JSON")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, entity: str,
               entity_id: str, payload: Any) -> str:
    body = canonical_json([seq, at.astimezone(UTC).isoformat(), actor, action, entity, entity_id,
                           payload])
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditLog:
    """``tx.audit``: appends within the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, actor: str, action: str, entity: str, entity_id: str,
               payload: dict[str, Any] | None = None, *, at: datetime | None = None) -> AuditEntry:
        # Identity numbers and phones are masked, PINs redacted: the trail is kept for years.
        clean = json.loads(canonical_json(scrub(payload or {})))
        # Microseconds survive both backends, so the hash recomputes exactly from the row.
        when = (at or datetime.now(UTC)).astimezone(UTC)
        # Lock the head row: concurrent appenders queue here, so the chain never forks.
        head = self._conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
        ).one()
        seq = head.seq + 1
        digest = entry_hash(head.hash, seq, when, actor, action, entity, entity_id, clean)
        self._conn.execute(insert(audit).values(
            seq=seq, at=when, actor=actor, action=action, entity=entity, entity_id=entity_id,
            payload=canonical_json(clean), prev_hash=head.hash, hash=digest))
        self._conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        return AuditEntry(seq=seq, at=when, actor=actor, action=action, entity=entity,
                          entity_id=entity_id, payload=clean, prev_hash=head.hash, hash=digest)

    def for_entity(self, entity: str, entity_id: str) -> list[AuditEntry]:
        rows = self._conn.execute(
            select(audit).where(audit.c.entity == entity, audit.c.entity_id == entity_id)
            .order_by(audit.c.seq))
        return [_entry(r) for r in rows]

    def all(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = self._conn.execute(
            select(audit).where(audit.c.seq > after_seq).order_by(audit.c.seq).limit(limit))
        return [_entry(r) for r in rows]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(seq=row.seq, at=row.at, actor=row.actor, action=row.action, entity=row.entity,
                      entity_id=row.entity_id, payload=json.loads(row.payload),
                      prev_hash=row.prev_hash, hash=row.hash)


def verify_chain(rows: Iterable[Any], head: Any | None) -> AuditReport:
    """Recompute the chain from rows ordered by seq; ``head`` is the audit_head row (or None)."""
    problems: list[str] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for row in rows:
        checked += 1
        if row.seq != expected_seq:
            problems.append(f"rows {expected_seq}..{row.seq - 1} are missing (deleted)"
                            if row.seq > expected_seq else f"row {row.seq}: out of sequence")
        if row.prev_hash != prev_hash:
            problems.append(f"row {row.seq}: prev_hash does not match the row before it "
                            "(a row was deleted or inserted)")
        try:
            payload = json.loads(row.payload)
            recomputed = entry_hash(row.prev_hash, row.seq, row.at, row.actor, row.action,
                                    row.entity, row.entity_id, payload)
        except ValueError:
            recomputed = ""
        if recomputed != row.hash:
            problems.append(f"row {row.seq}: content does not match its hash (edited)")
        # Carry on from the stored hash so one edit is reported once, not on every later row.
        prev_hash = row.hash
        expected_seq = row.seq + 1
    if head is None:
        problems.append("audit_head is missing")
    elif (head.seq, head.hash) != (expected_seq - 1, prev_hash):
        problems.append(f"the chain ends at row {expected_seq - 1} but audit_head records row "
                        f"{head.seq} (rows cut off the end, or the head was altered)")
    return AuditReport(ok=not problems, checked=checked, problems=problems)
