"""Charger.tolerant: a charger's tolerant mode (commit 494d0b0).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("charger", sa.Column("tolerant", sa.Boolean(), nullable=False, server_default=sa.false()))
