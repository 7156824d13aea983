"""Store fixtures: ``store`` runs each test on SQLite and on a real PostgreSQL; ``pg_store`` on PostgreSQL."""

from core.store.testing import pg_store, store, store_backend  # noqa: F401  (pytest fixtures)
