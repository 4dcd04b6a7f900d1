"""The schema as it was when migrations began (the release of commit 1e14d28).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("logentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=True),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_logentry_charger_id_id", "logentry", ["charger_id", "id"], unique=False)
    op.create_table("organization",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_organization_name"), "organization", ["name"], unique=True)
    op.create_table("unknowncharger",
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote_address", sa.String(), nullable=True),
        sa.Column("offered", sa.String(), nullable=True),
        sa.Column("decision", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("identity")
    )
    op.create_table("apikey",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_apikey_key_hash"), "apikey", ["key_hash"], unique=True)
    op.create_index(op.f("ix_apikey_organization_id"), "apikey", ["organization_id"], unique=False)
    op.create_table("location",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("power_cap_kw", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_location_organization_id"), "location", ["organization_id"], unique=False)
    op.create_table("charger",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("vendor_name", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("image_url", sa.String(), nullable=True),
        sa.Column("ocpp_version", sa.String(), nullable=False),
        sa.Column("number_of_connectors", sa.Integer(), nullable=False),
        sa.Column("max_charging_power", sa.Integer(), nullable=False),
        sa.Column("connector_type", sa.String(), nullable=True),
        sa.Column("location_id", sa.String(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("sim_password", sa.String(), nullable=True),
        sa.Column("registration", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_charger_identity"), "charger", ["identity"], unique=True)
    op.create_index(op.f("ix_charger_location_id"), "charger", ["location_id"], unique=False)
    op.create_index(op.f("ix_charger_organization_id"), "charger", ["organization_id"], unique=False)
    op.create_table("action",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("execution", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_conflict", sa.String(), nullable=True),
        sa.Column("queued_after", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_action_charger_id"), "action", ["charger_id"], unique=False)
    op.create_table("chargerevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_chargerevent_charger_at", "chargerevent", ["charger_id", "at"], unique=False)
    op.create_table("chargerstate",
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("is_connected", sa.Boolean(), nullable=False),
        sa.Column("is_charging", sa.Boolean(), nullable=False),
        sa.Column("current_power_kw", sa.Float(), nullable=False),
        sa.Column("max_current_a", sa.Float(), nullable=True),
        sa.Column("session_energy_kwh", sa.Float(), nullable=False),
        sa.Column("provisioning", sa.String(), nullable=False),
        sa.Column("firmware_version", sa.String(), nullable=True),
        sa.Column("connected_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_boot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.String(), nullable=True),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("firmware_status", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("charger_id")
    )
    op.create_table("connector",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charger_id", "connector_id")
    )
    op.create_index(op.f("ix_connector_charger_id"), "connector", ["charger_id"], unique=False)
    op.create_table("metersample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measurand", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_metersample_charger_at", "metersample", ["charger_id", "at"], unique=False)
    op.create_table("transaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(), nullable=False),
        sa.Column("transaction_ref", sa.String(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(), nullable=False),
        sa.Column("meter_start_wh", sa.Integer(), nullable=False),
        sa.Column("meter_stop_wh", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.Column("seq_no", sa.Integer(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["charger.id"]),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_transaction_charger_id"), "transaction", ["charger_id"], unique=False)
    op.create_index(op.f("ix_transaction_transaction_ref"), "transaction", ["transaction_ref"], unique=False)
