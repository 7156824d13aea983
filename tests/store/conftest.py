"""Store fixtures: ``store`` runs each test on SQLite and on a real PostgreSQL."""

from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures)
