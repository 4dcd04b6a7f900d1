"""Alembic's entry point: migrations run on the connection the store hands over (see `console.migrations`)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from console.core import models  # noqa: F401  (registers the tables, for `alembic revision --autogenerate`)

connection = context.config.attributes["connection"]
# SQLite alters a table by copying it; batch mode does that for the operations it cannot run in place.
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
