"""Sessions a depot can bill from: what was repaired in each, signed meter values, charger clocks (commit 5500e3e).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chargerstate", sa.Column("clock_offset_s", sa.Float(), nullable=True))
    for column in (
        sa.Column("energy_wh", sa.Float(), nullable=True),
        sa.Column("reconstructed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("start_known", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("incomplete", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("seq_nos", sa.String(), nullable=True),
        sa.Column("missing_seq_nos", sa.String(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("meter_anomaly", sa.String(), nullable=True),
        sa.Column("clock_skewed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("charger_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("charger_stopped_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("transaction", column)
    op.create_table(
        "signedmetervalue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measurand", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("context", sa.String(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signedmetervalue_charger_tx", "signedmetervalue", ["charger_id", "transaction_id"], unique=False)
