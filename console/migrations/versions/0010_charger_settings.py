"""Chargers' configuration as last fetched, reservations, sessions refused while a charger was Pending, and the
OCPP request of a command whose parameters are not it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chargersetting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("target", sa.JSON(), nullable=True),
        sa.Column("data_type", sa.String(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charger_id", "key"),
    )
    op.create_index("ix_chargersetting_charger_id", "chargersetting", ["charger_id"], unique=False)
    op.create_table(
        "reservation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reservation_charger_id", "reservation", ["charger_id"], unique=False)
    op.add_column("transaction", sa.Column("refused", sa.String(), nullable=True))
    op.add_column("action", sa.Column("request", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action") as batch:
        batch.drop_column("request")
    with op.batch_alter_table("transaction") as batch:
        batch.drop_column("refused")
    op.drop_index("ix_reservation_charger_id", table_name="reservation")
    op.drop_table("reservation")
    op.drop_index("ix_chargersetting_charger_id", table_name="chargersetting")
    op.drop_table("chargersetting")
