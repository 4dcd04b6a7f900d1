"""SQLModel tables. Field names follow the seeds (snake_case in the store)."""

from __future__ import annotations

import secrets
import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Sequence, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from console.core.views import OCPP_VERSIONS  # noqa: F401  (re-exported for the store's users)
from console.core.versions import OcppVersion
from console.core.packing import PackedText


# The API key a request acts for, set by the REST API for the request's work: each Action
# created meanwhile records it. Unset (None) for the UI and the console's own decisions.
acting_key: ContextVar[str | None] = ContextVar("acting_key", default=None)


def new_charger_id() -> str:
    return f"dep-{secrets.token_hex(6)}"


def new_location_id() -> str:
    return str(uuid.uuid4())


def new_action_id() -> str:
    return f"action_{secrets.token_hex(8)}"


class Organization(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str = Field(unique=True, index=True)
    created_at: datetime


class Location(SQLModel, table=True):
    id: str = Field(default_factory=new_location_id, primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    name: str
    address: str | None = None
    power_cap_kw: float | None = None
    created_at: datetime
    updated_at: datetime


class Charger(SQLModel, table=True):
    """A charger deployment: the seed's charger object plus what the console needs."""

    id: str = Field(default_factory=new_charger_id, primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    identity: str = Field(unique=True, index=True)
    name: str | None = None
    vendor_name: str | None = None
    model: str | None = None
    image_url: str | None = None
    ocpp_version: str = OcppVersion.V16
    number_of_connectors: int = 1
    max_charging_power: int = 22000
    connector_type: str | None = None
    location_id: str | None = Field(default=None, foreign_key="location.id", index=True)
    simulated: bool = False
    user_id: str | None = None
    # OCPP security profile 1/2: HTTP Basic auth on the handshake, checked against a salted hash.
    password_hash: str | None = None
    # A simulated charger's own copy of its password, in clear: what it sends when it connects (a
    # real charger keeps its copy on the charger). Kept for simulated chargers only; never served.
    sim_password: str | None = None
    # "accepted", or "pending"/"rejected" for a charger that registered itself.
    registration: str = "accepted"
    created_at: datetime
    updated_at: datetime
    # Tolerant mode: its transaction and meter messages that break the schema in the ways quirky
    # firmware does are taken (with a protocol warning) instead of refused.
    tolerant: bool = False
    # The OCPP security profile the charger must connect with at least (A00.FR.002): 1 Basic auth,
    # 2 TLS and Basic auth, 3 TLS with a client certificate whose CN is its identity. None: no minimum.
    security_profile: int | None = None


class ChargerState(SQLModel, table=True):
    """The last known live state of a charger, kept across restarts."""

    charger_id: str = Field(foreign_key="charger.id", primary_key=True)
    status: str = "offline"
    is_connected: bool = False
    is_charging: bool = False
    current_power_kw: float = 0.0
    max_current_a: float | None = None
    session_energy_kwh: float = 0.0
    provisioning: str = "created"
    firmware_version: str | None = None
    connected_since: datetime | None = None
    last_seen: datetime | None = None
    last_boot_at: datetime | None = None
    offline_since: datetime | None = None
    last_failure: str | None = None
    reconnects: int = 0
    firmware_status: str | None = None
    # How far the charger's clock is from ours (s, theirs minus ours) when beyond the allowed skew.
    clock_offset_s: float | None = None


class Connector(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("charger_id", "connector_id"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id", index=True)
    connector_id: int
    status: str = "Unavailable"
    error_code: str | None = None
    updated_at: datetime


class Transaction(SQLModel, table=True):
    """A charging session. `id` is the OCPP 1.6 transactionId we hand out."""

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id", index=True)
    # The charger's own id for the session: the 1.6 transactionId as text, or the 2.0.1 string.
    transaction_ref: str | None = Field(default=None, index=True)
    connector_id: int
    id_tag: str
    meter_start_wh: int
    meter_stop_wh: int | None = None
    started_at: datetime
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    seq_no: int | None = None
    offline: bool = False
    # The session's energy (Wh) once closed, never negative: meterStop - meterStart, or what the
    # samples allow when the meter went backwards; None when the readings do not tell.
    energy_wh: float | None = None
    # What the console had to repair, so a depot can see it (`ocpp-console doctor`):
    # opened from its stop (1.6) or from a later event (2.0.1): its start never arrived.
    reconstructed: bool = False
    # False: the start time and meterStart were not reported (started_at is then the stop's time).
    start_known: bool = True
    # 2.0.1: events are missing (the Started, or the seqNos in `missing_seq_nos`).
    incomplete: bool = False
    # 2.0.1: the seqNos received, as ranges ("0-5,7"), and the gaps among them.
    seq_nos: str | None = None
    missing_seq_nos: str | None = None
    # Closed by the console, not by the charger: "superseded" (a later start on its connector)
    # or "reboot" (the charger booted afresh). A stop the charger sends later still wins.
    closed_by: str | None = None
    # Why the readings cannot be taken as they are (a meter that went backwards).
    meter_anomaly: str | None = None
    # The charger's clock was off by more than the allowed skew: started_at/stopped_at are the
    # server's receive times, and the charger's own times are kept beside them.
    clock_skewed: bool = False
    charger_started_at: datetime | None = None
    charger_stopped_at: datetime | None = None
    # Why the console did not take the session as valid (the charger was Pending registration):
    # recorded as the charger reported it, answered not Accepted, and counted nowhere.
    refused: str | None = None


class MeterSample(SQLModel, table=True):
    __table_args__ = (Index("ix_metersample_charger_at", "charger_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id")
    transaction_id: int | None = None
    connector_id: int
    at: datetime
    measurand: str
    phase: str | None = None
    unit: str | None = None
    value: float


class MeterRollup(SQLModel, table=True):
    """A connector's meter samples over 15 minutes, written before its raw samples are pruned; kept much longer.

    Energy from the import register (Wh): its lowest and highest reading in the period (the energy of the
    period is their difference, the energy between two periods the difference of their highest). Power (W):
    the mean and the peak of the total readings.
    """

    __table_args__ = (UniqueConstraint("charger_id", "connector_id", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id")
    connector_id: int
    period_start: datetime
    energy_min_wh: float | None = None
    energy_max_wh: float | None = None
    power_mean_w: float | None = None
    power_max_w: float | None = None
    # The power readings the mean is of (so a late sample's roll-up can be merged in), and all samples.
    power_samples: int = 0
    samples: int = 0


class SignedMeterValue(SQLModel, table=True):
    """A signed meter reading (1.6 `format: SignedData`, 2.0.1 `signedMeterValue`), kept verbatim for audit (OCMF, Eichrecht)."""

    __table_args__ = (Index("ix_signedmetervalue_charger_tx", "charger_id", "transaction_id"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id")
    transaction_id: int | None = None
    connector_id: int
    at: datetime
    measurand: str
    phase: str | None = None
    context: str | None = None
    # The reading as sent: 1.6 the sampled value's `value`, 2.0.1 the `signedMeterValue` object.
    data: Any = Field(sa_column=Column(JSON))
    # 2.0.1: the plain value the signature is for.
    value: float | None = None


class Action(SQLModel, table=True):
    """Something the console asked of a charger, and what became of it."""

    id: str = Field(default_factory=new_action_id, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id", index=True)
    command: str
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    execution: str = "immediate"
    state: str = "pending"
    detail: str | None = None
    # When a scheduled command runs, or the window a windowed one keeps.
    start_at: datetime | None = None
    end_at: datetime | None = None
    on_conflict: str | None = None
    # queue_after: the action this one waits for.
    queued_after: str | None = None
    created_at: datetime
    updated_at: datetime
    # An OCPP operation: its action name (`parameters` is the request), the charger's
    # answer (the CALLRESULT payload, or the CALLERROR's code, description and details),
    # why it failed in one word (offline, timeout, call_error, invalid_request, ...),
    # and its timing: handed to the connection, answered, and the round trip measured.
    operation: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    reason: str | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    duration_ms: float | None = None
    # The OCPP request sent, where it is not `parameters` (a charge or idle command's CALL), secrets masked.
    request: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The API key that asked for it (its id, never the key); None for the console's own
    # operator and for what the console decides itself (the power cap).
    key_id: str | None = Field(default_factory=lambda: acting_key.get(), index=True)


class LogEntry(SQLModel, table=True):
    __table_args__ = (Index("ix_logentry_charger_id_id", "charger_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str | None = None
    identity: str
    at: datetime
    direction: str
    action: str | None = None
    message_id: str | None = None
    # Stored compressed (core.packing); read as the frame's text.
    message: str = Field(sa_column=Column(PackedText))


class ChargerEvent(SQLModel, table=True):
    """A notification from a charger that is not a frame of a session: security, firmware, reports."""

    __table_args__ = (Index("ix_chargerevent_charger_at", "charger_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id")
    at: datetime
    kind: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # alert | security | warning | info (core.chargerevents); rows from before the column read as info.
    severity: str = "info"


class UnknownCharger(SQLModel, table=True):
    """An identity not in the fleet that tried to connect, and what the operator decided."""

    identity: str = Field(primary_key=True)
    attempts: int = 0
    first_seen: datetime
    last_seen: datetime
    remote_address: str | None = None
    offered: str | None = None
    decision: str = "pending"  # "pending" | "accepted" | "rejected"


class UnknownAttempt(SQLModel, table=True):
    """Connection attempts by an identity not in the fleet, counted per hour (not a row per attempt)."""

    __table_args__ = (UniqueConstraint("identity", "hour"),)

    id: int | None = Field(default=None, primary_key=True)
    identity: str
    hour: datetime = Field(index=True)
    attempts: int = 0


class ApiKey(SQLModel, table=True):
    """A REST API key of one organization. Only a SHA-256 of the key is kept; the key is shown once."""

    id: str = Field(primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    key_hash: str = Field(unique=True, index=True)
    # The key's first characters, so a person can tell their keys apart in `keys list`.
    prefix: str
    label: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    # What the key may do, space-separated: read, operate (commands, runtime), admin (fleet, keys, caps).
    scopes: str = "read operate admin"
    # After this the key is refused, as a revoked one is.
    expires_at: datetime | None = None
    # When a request last came with it (kept to within a minute: not a write per request).
    last_used_at: datetime | None = None


class IdToken(SQLModel, table=True):
    """A token of one organization (1.6 idTag, 2.0.1 idToken with its type): who may charge, and where."""

    __table_args__ = (UniqueConstraint("organization_id", "token", "type"),)

    id: str = Field(primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    token: str
    type: str = "ISO14443"
    status: str = "Accepted"  # Accepted | Blocked | Expired | Invalid
    expires_at: datetime | None = None
    # The parent idTag (1.6) or group idToken (2.0.1) it belongs to.
    parent_id: str | None = None
    # The vehicle, driver or cost centre.
    label: str | None = None
    # The locations it is valid at; none: everywhere.
    location_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime
    updated_at: datetime
    # The planner's defaults for the vehicle: its usual need (kWh) and departure ("HH:MM", UTC), its priority.
    need_kwh: float | None = None
    depart_at: str | None = None
    priority: int = 0


class LocalAuthList(SQLModel, table=True):
    """The local authorization list a charger was last given (and acknowledged): its version and entries."""

    charger_id: str = Field(foreign_key="charger.id", primary_key=True)
    version: int = 0
    # The entries by key, in the charger's OCPP shape, so the next push sends only what changed.
    entries: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    pushed_at: datetime | None = None


class IdempotentRequest(SQLModel, table=True):
    """A POST's first answer under its Idempotency-Key, replayed for the same key and body within a day."""

    # The SHA-256 of the API key that sent it (as ApiKey.key_hash): one client's keys are its own.
    key_hash: str = Field(primary_key=True)
    idempotency_key: str = Field(primary_key=True)
    method: str
    path: str
    # The SHA-256 of the request body: the same key with another body is refused.
    body_hash: str
    status: int
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    body: str = Field(sa_column=Column(Text))
    created_at: datetime = Field(index=True)


class StreamEvent(SQLModel, table=True):
    """An event of the API's /events stream as it was sent: the durable event log that Last-Event-ID replays.

    `id` is the event's SSE id, given by the API's event hub (not by the
    database); `organization_id` "*" marks an event every organization sees
    (the store's health). Rows older than the retention are deleted.
    """

    __table_args__ = (Index("ix_streamevent_org_id", "organization_id", "id"),)

    id: int = Field(primary_key=True)
    organization_id: str
    charger_id: str | None = None
    type: str
    data: str = Field(sa_column=Column(PackedText, nullable=False))
    at: datetime = Field(index=True)


class WebhookSubscription(SQLModel, table=True):
    """Where an organization wants its events POSTed, signed with `secret` (kept to sign; never shown again)."""

    id: str = Field(primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    url: str
    secret: str
    # The event types delivered (the /events names); None: all but OCPP frames.
    types: list[str] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: pending until its receiver answers 2xx, retried with backoff."""

    __table_args__ = (Index("ix_webhookdelivery_subscription_status", "subscription_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(foreign_key="webhooksubscription.id")
    event_id: int
    type: str
    charger_id: str | None = None
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = "pending"  # "pending" | "delivered" | "failed" (gave up; redeliver to try again)
    attempts: int = 0
    last_error: str | None = None
    last_status_code: int | None = None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None


class ChargerSetting(SQLModel, table=True):
    """One configuration key (1.6 GetConfiguration) or device-model variable (2.0.1 NotifyReport), as last fetched."""

    __table_args__ = (UniqueConstraint("charger_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    charger_id: str = Field(foreign_key="charger.id", index=True)
    # 1.6: the key; 2.0.1: "Component.Variable", with [instance] and #evse where the report names them.
    key: str
    value: str | None = None
    readonly: bool = False
    # 2.0.1: the component and variable objects as reported, what SetVariables names to change it.
    target: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    data_type: str | None = None
    fetched_at: datetime


class Reservation(SQLModel, table=True):
    """A connector reserved for an id token (ReserveNow) until it expires, is used or cancelled."""

    id: int | None = Field(default=None, primary_key=True)  # the OCPP reservationId
    charger_id: str = Field(foreign_key="charger.id", index=True)
    connector_id: int
    id_tag: str
    expires_at: datetime
    # "requested", "accepted", then "cancelled" or "expired"; or "refused"/"failed" (the charger did not take it).
    state: str = "requested"
    detail: str | None = None
    created_at: datetime
    updated_at: datetime


# -- the cluster (core.cluster): empty on a single node --------------------------------------------

# The blocks of ids cluster nodes give rows themselves (core.cluster.IdBlocks); PostgreSQL only.
CLUSTER_ID_BLOCKS = Sequence("cluster_id_blocks", metadata=SQLModel.metadata)


class ClusterNode(SQLModel, table=True):
    """A `serve --cluster` node: alive while its lease, renewed by its heartbeat on the database's clock, runs."""

    name: str = Field(primary_key=True)
    host: str
    pid: int
    ocpp_url: str | None = None
    api_url: str | None = None
    started_at: datetime
    heartbeat_at: datetime
    lease_until: datetime = Field(index=True)


class ChargerLink(SQLModel, table=True):
    """Which node holds a charger's connection now; gone with the connection, or with the node's lease."""

    charger_id: str = Field(primary_key=True, foreign_key="charger.id", ondelete="CASCADE")
    node: str = Field(foreign_key="clusternode.name", ondelete="CASCADE", index=True)
    connected_at: datetime


class ClusterCall(SQLModel, table=True):
    """A CALL one node asks the node holding the charger to make; deleted once its caller has the outcome."""

    id: int | None = Field(default=None, primary_key=True)
    node: str = Field(index=True)
    caller: str
    identity: str
    operation: str
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime
    taken_at: datetime | None = None


class ActionClaim(SQLModel, table=True):
    """The node that runs an action (due, or a window's end): one node per action while that node lives."""

    action_id: str = Field(primary_key=True, foreign_key="action.id", ondelete="CASCADE")
    node: str
    claimed_at: datetime


class ChargingNeed(SQLModel, table=True):
    """What the session on a connector needs by when: from the operator, the token's default or the EV itself."""

    charger_id: str = Field(primary_key=True)
    connector_id: int = Field(primary_key=True)
    # The session it was given for; None: the next session on the connector takes it.
    transaction_id: int | None = None
    depart_by: datetime
    energy_kwh: float | None = None
    target_soc: float | None = None
    battery_kwh: float | None = None
    # The vehicle's own maximum (kW), when it says.
    max_kw: float | None = None
    source: str = "operator"  # operator | token | ev
    # Charge at full power now, whatever the plan says.
    pinned: bool = False
    updated_at: datetime


class LocationPlan(SQLModel, table=True):
    """A location's planner: on or off (equal shares), its tariff and its site base load per slot."""

    location_id: str = Field(foreign_key="location.id", primary_key=True)
    enabled: bool = True
    # A price per kWh per 15-minute slot of the day (96), from 00:00 UTC; None: no tariff.
    tariff: list[float] | None = Field(default=None, sa_column=Column(JSON))
    # The site's own load per slot (kW), taken from the cap; None: none.
    base_load_kw: list[float] | None = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime
