"""Charger.security_profile: the OCPP security profile a charger must connect with at least.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("charger", sa.Column("security_profile", sa.Integer(), nullable=True))
