"""The cluster: nodes with their leases, which node holds which charger, CALLs routed between nodes, action claims.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clusternode",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("ocpp_url", sa.String(), nullable=True),
        sa.Column("api_url", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_clusternode_lease_until", "clusternode", ["lease_until"], unique=False)
    op.create_table(
        "chargerlink",
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["node"], ["clusternode.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("charger_id"),
    )
    op.create_index("ix_chargerlink_node", "chargerlink", ["node"], unique=False)
    op.create_table(
        "clustercall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("caller", sa.String(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_clustercall_node", "clustercall", ["node"], unique=False)
    op.create_table(
        "actionclaim",
        sa.Column("action_id", sa.String(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("action_id"),
    )
    if op.get_bind().dialect.name == "postgresql":  # the blocks of ids nodes give rows themselves (core.cluster.IdBlocks)
        op.execute("CREATE SEQUENCE cluster_id_blocks")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE cluster_id_blocks")
    op.drop_table("actionclaim")
    op.drop_index("ix_clustercall_node", table_name="clustercall")
    op.drop_table("clustercall")
    op.drop_index("ix_chargerlink_node", table_name="chargerlink")
    op.drop_table("chargerlink")
    op.drop_index("ix_clusternode_lease_until", table_name="clusternode")
    op.drop_table("clusternode")
