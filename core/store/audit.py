"""The hash-chained, append-only audit trail, keyed with a secret that does not live in the database.

``hash = HMAC-SHA256(key, prev_hash + canonical JSON of [seq, at, actor, action, entity, entity_id,
payload])``; rows written before the deployment had a key (``key_id`` NULL) use plain ``sha256`` in
place of the HMAC. The chain proves rows were neither edited, inserted nor removed after the fact: an
edited row no longer matches its hash, a removed row leaves a gap and a broken ``prev_hash``, and rows
cut off the end disagree with ``audit_head``. Triggers (see the migration) refuse UPDATE and DELETE.

The key is what makes this hold against someone with database access: without it nobody can
recompute the later hashes after an edit, nor re-hash the chain as unkeyed (once a row is keyed every
later one must be, and a deployment with a key must have keyed rows). Cutting rows off the end and
rewinding ``audit_head`` is only caught against a :class:`Checkpoint` kept elsewhere. See
docs/security.md, "The audit trail".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, bindparam, insert, select, update

from core.errors import ConfigError, EportError, InvalidInput
from core.privacy import scrub
from core.private_files import create_private_file
from core.store.records import AuditEntry, AuditReport
from core.store.tables import audit, audit_head

GENESIS_HASH = "0" * 64
KEY_ENV = "EPORTCARD_AUDIT_KEY"  # the key as hex; when set it wins over [audit] key_file
KEY_BYTES = 32
CHECKPOINT_FORMAT = "eportcard-audit-checkpoint/1"


class CannotVerify(EportError):
    """The audit trail could not be checked at all (the database cannot be read)."""

    code = "cannot_verify"


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


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short name of the key, stored with each keyed row: tells a wrong key file from an edit."""
    return _mac(key, "eportcard audit key id")[:16]


def entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, entity: str,
               entity_id: str, payload: Any, *, key: bytes | None = None) -> str:
    body = prev_hash + canonical_json([seq, at.astimezone(UTC).isoformat(), actor, action, entity,
                                       entity_id, payload])
    return _mac(key, body) if key is not None else hashlib.sha256(body.encode("utf-8")).hexdigest()


# ---- the key file ------------------------------------------------------------------------------------------


def create_key_file(path: Path) -> None:
    """A new random audit key (hex), owner-only from creation; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    create_private_file(path, (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii"),
                        what=("审计密钥文件", "an audit key"), field="audit.key_file")


def ensure_key(path: Path, environ: Mapping[str, str] = os.environ) -> bool:
    """Create the key file unless a key exists (the file, or ``EPORTCARD_AUDIT_KEY``); True if made."""
    if load_key(path, environ) is not None:
        return False
    create_key_file(path)
    return True


def load_key(path: Path, environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The audit key from ``EPORTCARD_AUDIT_KEY`` or else the key file; None when neither exists."""
    text, source = environ.get(KEY_ENV, ""), KEY_ENV
    if not text:
        source = str(path)
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"无法读取审计密钥 {source}：{exc}", f"cannot read the audit key {source}: {exc}",
                              field="audit.key_file") from None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ConfigError(f"审计密钥 {source} 已损坏（须为至少{KEY_BYTES}字节的十六进制）",
                          f"the audit key {source} is damaged (it must be at least {KEY_BYTES} bytes, as hex)",
                          field="audit.key_file")
    return key


# ---- appending ---------------------------------------------------------------------------------------------


_LOCKED_HEAD = select(audit_head.c.seq, audit_head.c.hash, audit_head.c.key_id).where(audit_head.c.id == 1) \
    .with_for_update()
_APPEND = insert(audit)
_MOVE_HEAD = update(audit_head).where(audit_head.c.id == 1).values(
    seq=bindparam("head_seq"), hash=bindparam("head_hash"), key_id=bindparam("head_key_id"))


class AuditLog:
    """``tx.audit``: appends within the caller's transaction, keyed when the deployment has a key."""

    def __init__(self, conn: Connection, key: bytes | None = None) -> None:
        self._conn = conn
        self._key = key
        self._key_id = key_id(key) if key is not None else None

    def append(self, actor: str, action: str, entity: str, entity_id: str,
               payload: dict[str, Any] | None = None, *, at: datetime | None = None) -> AuditEntry:
        # Identity numbers and phones are masked, PINs redacted: the trail is kept for years.
        clean = json.loads(canonical_json(scrub(payload or {})))
        # Microseconds survive both backends, so the hash recomputes exactly from the row.
        when = (at or datetime.now(UTC)).astimezone(UTC)
        head = self._locked_head()
        if head.key_id is not None and head.key_id != self._key_id:
            # An unkeyed (or differently keyed) row after keyed ones would break the chain for good.
            raise ConfigError(
                "审计记录已用审计密钥签名，但本进程没有该密钥：请恢复 [audit] key_file 或 EPORTCARD_AUDIT_KEY",
                f"the audit trail is keyed (key {head.key_id}) but this process has "
                + (f"another key ({self._key_id})" if self._key_id else "no audit key")
                + ": restore [audit] key_file or EPORTCARD_AUDIT_KEY", field="audit.key_file")
        seq = head.seq + 1
        digest = entry_hash(head.hash, seq, when, actor, action, entity, entity_id, clean, key=self._key)
        # Statements built once (_APPEND, _MOVE_HEAD): building them per append was most of a write's time.
        self._conn.execute(_APPEND, {
            "seq": seq, "at": when, "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
            "payload": canonical_json(clean), "prev_hash": head.hash, "hash": digest, "key_id": self._key_id})
        self._conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": digest, "head_key_id": self._key_id})
        return AuditEntry(seq=seq, at=when, actor=actor, action=action, entity=entity,
                          entity_id=entity_id, payload=clean, prev_hash=head.hash, hash=digest)

    def start_keyed(self, actor: str) -> AuditEntry | None:
        """Append the row from which the chain is keyed, unless it is empty or keyed already.

        Keying an existing trail takes effect at once, rather than at its next event; from that row
        on, every earlier row is covered too (the row's HMAC covers the hash before it).
        """
        if self._key_id is None:
            raise ConfigError("未配置审计密钥", "no audit key is configured", field="audit.key_file")
        head = self._locked_head()
        if head.seq == 0 or head.key_id == self._key_id:
            return None
        return self.append(actor, "audit_key_enabled", "audit", self._key_id, {"key_id": self._key_id})

    def _locked_head(self) -> Any:
        # Lock the head row: concurrent appenders queue here, so the chain never forks.
        return self._conn.execute(_LOCKED_HEAD).one()

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


# ---- checkpoints -------------------------------------------------------------------------------------------


@frozen
class Checkpoint:
    """The head of the chain at one moment, signed with the key: kept elsewhere, it proves later that
    the chain still holds row ``seq`` with ``hash`` (so nothing was cut off the end or rewritten)."""

    seq: int
    hash: str
    taken_at: datetime
    key_id: str
    mac: str

    @classmethod
    def sign(cls, seq: int, hash: str, taken_at: datetime, key: bytes) -> Checkpoint:
        when, kid = taken_at.astimezone(UTC), key_id(key)
        return cls(seq, hash, when, kid, _mac(key, _checkpoint_message(seq, hash, when, kid)))

    def signed_with(self, key: bytes) -> bool:
        expected = _mac(key, _checkpoint_message(self.seq, self.hash, self.taken_at, self.key_id))
        return hmac.compare_digest(self.mac, expected)

    def to_json(self) -> str:
        return json.dumps({"format": CHECKPOINT_FORMAT, "seq": self.seq, "hash": self.hash,
                           "taken_at": self.taken_at.isoformat(), "key_id": self.key_id, "hmac": self.mac},
                          indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"无法读取检查点 {path}：{exc}", f"cannot read the checkpoint {path}: {exc}",
                               field="checkpoint") from None
        return cls.from_json(text, str(path))

    @classmethod
    def from_json(cls, text: str, source: str = "checkpoint") -> Checkpoint:
        try:
            raw = json.loads(text)
            if raw["format"] != CHECKPOINT_FORMAT or not isinstance(raw["seq"], int) or raw["seq"] < 0:
                raise ValueError("format or seq")
            fields = [raw["hash"], raw["key_id"], raw["hmac"]]
            if not all(isinstance(f, str) and f for f in fields):
                raise ValueError("hash, key_id or hmac")
            taken_at = datetime.fromisoformat(raw["taken_at"])
            if taken_at.tzinfo is None:
                raise ValueError("taken_at")
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(f"{source} 不是审计检查点文件（{exc}）",
                               f"{source} is not an audit checkpoint ({exc}); make one with "
                               "`eportcard audit checkpoint`", field="checkpoint") from None
        return cls(raw["seq"], raw["hash"], taken_at.astimezone(UTC), raw["key_id"], raw["hmac"])


def _checkpoint_message(seq: int, hash: str, taken_at: datetime, kid: str) -> str:
    return canonical_json([CHECKPOINT_FORMAT, seq, hash, taken_at, kid])


# ---- verifying ---------------------------------------------------------------------------------------------


class _Walk:
    """The state of one pass over the chain (see :func:`verify_chain`)."""

    def __init__(self, key: bytes | None, checkpoints: Sequence[Checkpoint]) -> None:
        self.key = key
        self.key_id = key_id(key) if key is not None else None
        self.problems: list[str] = []
        self.unverified: list[str] = []
        self.wanted: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            if key is not None and checkpoint.signed_with(key):
                self.wanted.setdefault(checkpoint.seq, []).append(checkpoint)
            else:
                self.unverified.append(
                    f"the checkpoint of row {checkpoint.seq} taken {checkpoint.taken_at:%Y-%m-%d %H:%M} UTC is "
                    + ("not signed with this deployment's audit key (forged, or another deployment's): refused"
                       if key is not None else "cannot be checked without the audit key"))
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.last_key_id: str | None = None
        self.keyed_from: int | None = None
        self.downgraded = False
        self.foreign_from: int | None = None
        self.checked = 0

    def row(self, row: Any) -> None:
        self.checked += 1
        if row.seq != self.expected_seq:
            self.problems.append(f"rows {self.expected_seq}..{row.seq - 1} are missing (deleted)"
                                 if row.seq > self.expected_seq else f"row {row.seq}: out of sequence")
        if row.prev_hash != self.prev_hash:
            self.problems.append(f"row {row.seq}: prev_hash does not match the row before it "
                                 "(a row was deleted or inserted)")
        self._keying(row)
        key = self.key if row.key_id is not None else None
        if row.key_id is None or row.key_id == self.key_id:
            try:
                recomputed = entry_hash(row.prev_hash, row.seq, row.at, row.actor, row.action, row.entity,
                                        row.entity_id, json.loads(row.payload), key=key)
            except ValueError:
                recomputed = ""
            if recomputed != row.hash:
                self.problems.append(f"row {row.seq}: content does not match its hash (edited)")
        for checkpoint in self.wanted.pop(row.seq, []):
            if checkpoint.hash != row.hash:
                self.problems.append(f"row {row.seq}: its hash differs from the checkpoint taken "
                                     f"{checkpoint.taken_at:%Y-%m-%d %H:%M} UTC (the chain was rewritten)")
        # Carry on from the stored hash so one edit is reported once, not on every later row.
        self.prev_hash = row.hash
        self.expected_seq = row.seq + 1
        self.last_key_id = row.key_id

    def _keying(self, row: Any) -> None:
        if row.key_id is None:
            if self.keyed_from is not None and not self.downgraded:
                self.downgraded = True
                self.problems.append(f"row {row.seq}: not keyed although row {self.keyed_from} before it "
                                     "is (the chain was re-hashed without the audit key)")
            return
        if self.keyed_from is None:
            self.keyed_from = row.seq
        elif self.last_key_id is not None and row.key_id != self.last_key_id:
            self.problems.append(f"row {row.seq}: keyed with another key than the row before it")
        if row.key_id != self.key_id and self.foreign_from is None:
            self.foreign_from = row.seq
            self.unverified.append(
                f"rows from {row.seq} are keyed (key {row.key_id}) but no audit key is configured"
                if self.key_id is None else
                f"rows from {row.seq} are keyed with key {row.key_id}, not with the configured key "
                f"{self.key_id} (another deployment's key file?)")

    def end(self, head: Any | None) -> None:
        last = self.expected_seq - 1
        if head is None:
            self.problems.append("audit_head is missing")
        elif (head.seq, head.hash) != (last, self.prev_hash):
            self.problems.append(f"the chain ends at row {last} but audit_head records row {head.seq} "
                                 "(rows cut off the end, or the head was altered)")
        elif head.key_id != self.last_key_id:
            self.problems.append("audit_head names another key than the last row (the head was altered)")
        if self.key is not None and self.checked and self.keyed_from is None:
            self.problems.append("no row is keyed although an audit key is configured: the chain was "
                                 "re-hashed without the key, or the key is new (`eportcard audit init-key` "
                                 "starts the keyed chain)")
        for checkpoint in self.wanted.pop(0, []):  # taken of the empty trail: the start of every chain
            if checkpoint.hash != GENESIS_HASH:
                self.problems.append(f"the checkpoint taken {checkpoint.taken_at:%Y-%m-%d %H:%M} UTC records "
                                     "row 0 with another hash than the chain's start")
        for seq, kept in sorted(self.wanted.items()):
            self.problems.extend(
                f"the checkpoint taken {c.taken_at:%Y-%m-%d %H:%M} UTC records row {seq} but the chain "
                f"ends at row {last} (rows cut off the end and audit_head rewound)" for c in kept)

    def warnings(self) -> list[str]:
        if self.key is None and self.checked and self.keyed_from is None:
            return ["审计链未使用密钥：能改数据库的人可以改写它而不被发现 / the audit chain is not keyed: "
                    "anyone who can write to the database can rewrite it undetected; run "
                    "`eportcard audit init-key` (see docs/security.md)"]
        return []


def verify_chain(rows: Iterable[Any], head: Any | None, key: bytes | None = None,
                 checkpoints: Sequence[Checkpoint] = ()) -> AuditReport:
    """Recompute the chain from rows ordered by seq; ``head`` is the audit_head row (or None).

    ``checkpoints`` (exported earlier) must each still be in the chain; one not signed with ``key``
    is refused (reported as unverified).
    """
    walk = _Walk(key, checkpoints)
    for row in rows:
        walk.row(row)
    walk.end(head)
    return AuditReport(ok=not walk.problems and not walk.unverified, checked=walk.checked,
                       problems=walk.problems, unverified=walk.unverified, warnings=walk.warnings(),
                       keyed_from=walk.keyed_from)
