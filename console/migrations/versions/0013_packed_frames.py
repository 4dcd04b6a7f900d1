"""Frame logs and logged events stored compressed (core.packing): bytea on PostgreSQL.

SQLite keeps each value's own type whatever the column declares: its columns stay
TEXT, the text rows already there are read as they are, new rows are BLOBs (no
table rewrite). PostgreSQL's columns become bytea, the rows there their UTF-8
bytes, which read back as the same text.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = (("logentry", "message", True), ("streamevent", "data", False))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=sa.LargeBinary(), existing_type=sa.Text(), existing_nullable=nullable,
            postgresql_using=f"convert_to({column}, 'UTF8')",
        )


# No downgrade: packed rows are not text that SQL could turn them back into.
