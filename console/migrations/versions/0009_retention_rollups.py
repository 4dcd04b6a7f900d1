"""Retention: 15-minute roll-ups of meter samples, and unknown-identity attempts counted per hour.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meterrollup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("energy_min_wh", sa.Float(), nullable=True),
        sa.Column("energy_max_wh", sa.Float(), nullable=True),
        sa.Column("power_mean_w", sa.Float(), nullable=True),
        sa.Column("power_max_w", sa.Float(), nullable=True),
        sa.Column("power_samples", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charger_id", "connector_id", "period_start"),
    )
    op.create_table(
        "unknownattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identity", "hour"),
    )
    op.create_index("ix_unknownattempt_hour", "unknownattempt", ["hour"], unique=False)
