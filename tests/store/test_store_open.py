"""open_store: URLs it accepts and refuses."""

from __future__ import annotations

import pytest
from store_samples import make_application

from core.errors import ConfigError
from core.store import open_store


def test_in_memory_sqlite_keeps_one_database(tmp_path):
    store = open_store("sqlite://", tmp_path / "blobs")
    try:
        store.upgrade()
        with store.transaction() as tx:
            tx.applications.add(make_application())
        with store.transaction() as tx:
            assert tx.applications.count() == 1
    finally:
        store.dispose()


def test_sqlite_file_gets_wal_foreign_keys_and_busy_timeout(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'sub' / 'eportcard.db'}", tmp_path / "blobs")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    finally:
        store.dispose()


def test_plain_postgresql_url_uses_psycopg3(tmp_path):
    store = open_store("postgresql://u:p@127.0.0.1:1/db", tmp_path)
    assert store.engine.dialect.driver == "psycopg"
    store.dispose()


def test_unsupported_database_is_refused_without_showing_its_password(tmp_path):
    for url in ("mysql://u:S3cretPw@localhost/db", "postgresq+psycopg://u:S3cretPw@h/db",
                "postgresql+psycog://u:S3cretPw@h/db", "postgresql+psycopg://u:S3cretPw@h:port/db",
                "u:S3cretPw@h/db"):
        with pytest.raises(ConfigError) as refused:
            open_store(url, tmp_path)
        assert "S3cretPw" not in str(refused.value) and "sqlite:///" in refused.value.en, url
        assert refused.value.field == "database.url"
