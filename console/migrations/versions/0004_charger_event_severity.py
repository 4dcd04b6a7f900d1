"""ChargerEvent.severity: each charger event classified as it is kept (commit b19b1d8).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events kept before were not classified: they read as info.
    op.add_column("chargerevent", sa.Column("severity", sa.String(), nullable=False, server_default="info"))
