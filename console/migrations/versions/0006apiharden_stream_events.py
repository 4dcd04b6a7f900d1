"""The API's durable event log: /events replays what a client missed after its Last-Event-ID.

Revision ID: 0006apiharden (the helper apiharden's 0006: console/migrations takes a revision's id from its file name up to the first "_")
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006apiharden"
down_revision = "0005"
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
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_streamevent_org_id", "streamevent", ["organization_id", "id"], unique=False)
    op.create_index("ix_streamevent_at", "streamevent", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_streamevent_at", table_name="streamevent")
    op.drop_index("ix_streamevent_org_id", table_name="streamevent")
    op.drop_table("streamevent")
