"""API keys with scopes, an expiry and a last-used time; the key behind each action; Idempotency-Key answers.

Keys made before scopes existed could do everything: they keep all three scopes.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("apikey", sa.Column("scopes", sa.String(), nullable=False, server_default="read operate admin"))
    op.add_column("apikey", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("apikey", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("action", sa.Column("key_id", sa.String(), nullable=True))
    op.create_index("ix_action_key_id", "action", ["key_id"], unique=False)
    op.create_table(
        "idempotentrequest",
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("body_hash", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "idempotency_key"),
    )
    op.create_index("ix_idempotentrequest_created_at", "idempotentrequest", ["created_at"], unique=False)
