"""Alembic environment: always run programmatically by :mod:`perch.store.migrate`.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
``alembic.ini`` and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from perch.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
