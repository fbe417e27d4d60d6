"""Alembic environment: migrations run on a connection handed in by ``moorage.metadata.migrate``
(or, for ``alembic revision --autogenerate`` during development, on a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from moorage.metadata.database import sync_url
from moorage.metadata.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url") or "sqlite://"
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
