"""Alembic environment, run programmatically by ``Store.upgrade()`` (no alembic.ini).

The caller passes an open connection in ``config.attributes["connection"]``, so migrations run
inside the caller's transaction, on the caller's engine (and PostgreSQL search_path).
"""

from alembic import context

from core.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core.store.Store.upgrade(), which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
