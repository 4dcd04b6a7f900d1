"""The depot planner: each connector's charging need, each location's planner settings, tokens' defaults.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chargingneed",
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("depart_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("energy_kwh", sa.Float(), nullable=True),
        sa.Column("target_soc", sa.Float(), nullable=True),
        sa.Column("battery_kwh", sa.Float(), nullable=True),
        sa.Column("max_kw", sa.Float(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charger_id", "connector_id"),
    )
    op.create_table(
        "locationplan",
        sa.Column("location_id", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tariff", sa.JSON(), nullable=True),
        sa.Column("base_load_kw", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"]),
        sa.PrimaryKeyConstraint("location_id"),
    )
    with op.batch_alter_table("idtoken") as batch:
        batch.add_column(sa.Column("need_kwh", sa.Float(), nullable=True))
        batch.add_column(sa.Column("depart_at", sa.String(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("idtoken") as batch:
        batch.drop_column("priority")
        batch.drop_column("depart_at")
        batch.drop_column("need_kwh")
    op.drop_table("locationplan")
    op.drop_table("chargingneed")
