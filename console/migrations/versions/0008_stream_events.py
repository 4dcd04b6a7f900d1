"""The API's durable event log (/events replays what a client missed after its Last-Event-ID) and webhooks.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "streamevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_streamevent_org_id", "streamevent", ["organization_id", "id"], unique=False)
    op.create_index("ix_streamevent_at", "streamevent", ["at"], unique=False)
    op.create_table(
        "webhooksubscription",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("types", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhooksubscription_organization_id", "webhooksubscription", ["organization_id"], unique=False)
    op.create_table(
        "webhookdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["webhooksubscription.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhookdelivery_subscription_status", "webhookdelivery", ["subscription_id", "status", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhookdelivery_subscription_status", table_name="webhookdelivery")
    op.drop_table("webhookdelivery")
    op.drop_index("ix_webhooksubscription_organization_id", table_name="webhooksubscription")
    op.drop_table("webhooksubscription")
    op.drop_index("ix_streamevent_at", table_name="streamevent")
    op.drop_index("ix_streamevent_org_id", table_name="streamevent")
    op.drop_table("streamevent")
