"""The keyed audit chain and its checkpoints, against someone with database access but not the key.

Issue #9 item 7: with the triggers dropped, an edited row whose later hashes (and the head) were
recomputed passed verification, and so did a deleted last row with the head rewound.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from sqlalchemy import select

from core.errors import ConfigError, InvalidInput
from core.store import Store
from core.store.audit import (
    KEY_ENV,
    Checkpoint,
    create_key_file,
    ensure_key,
    entry_hash,
    key_id,
    load_key,
)
from core.store.tables import audit, audit_head
from core.store.testing import rewrite_audit

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def keyed(store: Store, tmp_path: Path) -> Iterator[Store]:
    """The same database as ``store``, written by a deployment that has the audit key."""
    yield with_key(store, tmp_path, KEY)


def with_key(store: Store, tmp_path: Path, key: bytes | None) -> Store:
    return Store(store.engine, tmp_path / "blobs", audit_key=key)


def fill(store: Store, n: int = 5) -> None:
    with store.transaction() as tx:
        for i in range(1, n + 1):
            tx.audit.append("staff:王", "accept", "application", f"A{i}", {"step": i})


def test_keyed_rows_carry_an_hmac_that_plain_sha256_cannot_reproduce(keyed: Store):
    with keyed.transaction() as tx:
        entry = tx.audit.append("staff:王", "accept", "application", "A1", {"step": 1})
    args = (entry.prev_hash, 1, entry.at, "staff:王", "accept", "application", "A1", {"step": 1})
    assert entry.hash == entry_hash(*args, key=KEY) != entry_hash(*args)
    with keyed.engine.connect() as conn:
        assert conn.execute(select(audit.c.key_id)).scalar_one() == key_id(KEY)
        assert conn.execute(select(audit_head.c.key_id)).scalar_one() == key_id(KEY)
    report = keyed.audit_verify()
    assert (report.ok, report.keyed_from, report.problems, report.warnings) == (True, 1, [], [])


@pytest.mark.parametrize(("unkeyed", "message"), [
    (True, "row 2: not keyed although row 1 before it is (the chain was re-hashed without the audit key)"),
    (False, "row 2: content does not match its hash (edited)"),
])
def test_an_edit_with_every_later_hash_and_the_head_recomputed_fails_on_a_keyed_chain(keyed, unkeyed, message):
    fill(keyed)
    rewrite_audit(keyed, {2: {"actor": "staff:nobody"}}, unkeyed=unkeyed)
    report = keyed.audit_verify()
    assert not report.ok and report.problems[0] == message
    assert all("prev_hash" not in p and "audit_head" not in p for p in report.problems)  # a consistent rewrite


def test_the_whole_chain_re_hashed_as_unkeyed_fails_when_a_key_is_configured(keyed):
    fill(keyed)
    rewrite_audit(keyed, {1: {"actor": "staff:nobody"}})
    report = keyed.audit_verify()
    assert not report.ok and report.keyed_from is None
    assert report.problems == ["no row is keyed although an audit key is configured: the chain was re-hashed "
                               "without the key, or the key is new (`eportcard audit init-key` starts the keyed chain)"]


def test_the_last_row_deleted_and_the_head_rewound_is_caught_by_a_checkpoint(keyed):
    fill(keyed, 4)
    kept = keyed.audit_checkpoint(NOON)
    fill(keyed, 1)
    later = keyed.audit_checkpoint(NOON)
    assert (kept.seq, later.seq) == (4, 5)
    assert keyed.audit_verify([kept, later]).ok
    rewrite_audit(keyed, keep_until=4)
    assert keyed.audit_verify().ok  # without a checkpoint kept elsewhere, truncation is invisible
    assert keyed.audit_verify([kept]).ok
    report = keyed.audit_verify([kept, later])
    assert not report.ok and report.problems == [
        "the checkpoint taken 2026-12-01 04:00 UTC records row 5 but the chain ends at row 4 "
        "(rows cut off the end and audit_head rewound)"]


def test_a_checkpoint_of_the_empty_trail_holds_for_every_chain(keyed):
    """Issue #20 item 8: the guide's daily checkpoint on a new deployment (no audit row yet) was
    reported the next day as rows cut off the end, whether or not rows had been added since."""
    empty = keyed.audit_checkpoint(NOON)
    assert empty.seq == 0 and keyed.audit_verify([empty]).ok
    fill(keyed, 2)
    assert keyed.audit_verify([empty]).ok


def test_a_rewrite_before_a_checkpoint_is_caught_even_on_an_unkeyed_prefix(store, keyed, tmp_path):
    fill(store, 3)  # written before the deployment had a key
    fill(keyed, 2)
    kept = keyed.audit_checkpoint(NOON)
    rewrite_audit(keyed, {2: {"actor": "staff:nobody"}}, keep_until=3)  # and drops the keyed rows
    problems = keyed.audit_verify([kept]).problems
    assert "no row is keyed although an audit key is configured" in problems[0]
    assert "records row 5 but the chain ends at row 3" in problems[1]


def test_legacy_rows_stay_verifiable_and_are_covered_by_the_first_keyed_row(store, keyed):
    fill(store, 3)
    report = store.audit_verify()
    assert report.ok and report.keyed_from is None and "not keyed" in report.warnings[0]
    fill(keyed, 2)
    report = keyed.audit_verify()
    assert (report.ok, report.checked, report.keyed_from, report.warnings) == (True, 5, 4, [])


def test_an_edited_legacy_row_breaks_the_keyed_rows_after_it(store, keyed):
    fill(store, 3)
    fill(keyed, 2)
    rewrite_audit(keyed, {2: {"actor": "staff:nobody"}}, unkeyed=False)
    with keyed.engine.connect() as conn:  # rows 4 and 5 kept their HMACs: the attacker cannot make new ones
        assert conn.execute(select(audit.c.key_id).where(audit.c.seq == 4)).scalar_one() == key_id(KEY)
    assert keyed.audit_verify().problems == ["row 4: content does not match its hash (edited)",
                                             "row 5: content does not match its hash (edited)"]


def test_a_process_without_the_key_may_not_continue_a_keyed_chain(store, keyed, tmp_path):
    fill(keyed, 1)
    for stranger in (store, with_key(store, tmp_path, OTHER_KEY)):
        with pytest.raises(ConfigError, match="the audit trail is keyed"), stranger.transaction() as tx:
            tx.audit.append("staff:王", "accept", "application", "A9", {})
    assert keyed.audit_verify().checked == 1


def test_without_the_key_or_with_another_the_keyed_rows_cannot_be_checked(store, keyed, tmp_path):
    fill(store, 1)
    fill(keyed, 2)
    report = store.audit_verify()
    assert not report.ok and not report.problems
    assert report.unverified == [f"rows from 2 are keyed (key {key_id(KEY)}) but no audit key is configured"]
    other = with_key(store, tmp_path, OTHER_KEY).audit_verify()
    assert not other.ok and not other.problems and "not with the configured key" in other.unverified[0]


def test_a_key_changing_mid_chain_is_a_problem(keyed):
    fill(keyed, 3)
    rewrite_audit(keyed, {3: {"key_id": "0123456789abcdef"}}, unkeyed=False)
    assert "row 3: keyed with another key than the row before it" in keyed.audit_verify().problems


def test_a_forged_or_foreign_checkpoint_is_refused(store, keyed, tmp_path):
    fill(keyed, 3)
    real = keyed.audit_checkpoint(NOON)
    forged = [attrs.evolve(real, seq=2), attrs.evolve(real, mac="0" * 64),
              with_key(store, tmp_path, OTHER_KEY).audit_checkpoint(NOON)]
    for checkpoint in forged:
        report = keyed.audit_verify([checkpoint])
        assert not report.ok and not report.problems
        assert report.unverified == [f"the checkpoint of row {checkpoint.seq} taken 2026-12-01 04:00 UTC is not "
                                     "signed with this deployment's audit key (forged, or another deployment's): "
                                     "refused"]
    assert "cannot be checked without the audit key" in store.audit_verify([real]).unverified[0]


def test_a_checkpoint_needs_the_key(store):
    with pytest.raises(ConfigError, match="no audit key is configured"):
        store.audit_checkpoint(NOON)


def test_start_keyed_marks_an_existing_trail_once(store, keyed):
    assert keyed.start_keyed_audit("system:cli") is None  # empty: its first row will be keyed anyway
    fill(store, 2)
    started = keyed.start_keyed_audit("system:cli")
    assert started is not None and (started.seq, started.action) == (3, "audit_key_enabled")
    assert keyed.start_keyed_audit("system:cli") is None
    assert keyed.audit_verify().keyed_from == 3


def test_checkpoint_json_round_trips_and_bad_files_are_named(tmp_path):
    checkpoint = Checkpoint.sign(7, "a" * 64, NOON, KEY)
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint and checkpoint.signed_with(KEY)
    path = tmp_path / "cp.json"
    for text in ("{", '{"format": "other"}', checkpoint.to_json().replace('"seq": 7', '"seq": "7"')):
        path.write_text(text)
        with pytest.raises(InvalidInput, match=f"{path} is not an audit checkpoint"):
            Checkpoint.read(path)


def test_key_file_is_owner_only_never_overwritten_and_the_environment_wins(tmp_path):
    path = tmp_path / "keys" / "audit.key"
    assert load_key(path, {}) is None
    assert ensure_key(path, {}) and not ensure_key(path, {})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_key(path, {})
    assert key is not None and len(key) == 32
    with pytest.raises(InvalidInput, match="will not be overwritten"):
        create_key_file(path)
    assert load_key(path, {KEY_ENV: KEY.hex()}) == KEY
    assert not ensure_key(tmp_path / "none.key", {KEY_ENV: KEY.hex()})
    path.write_text("not hex")
    with pytest.raises(ConfigError, match="is damaged"):
        load_key(path, {})
