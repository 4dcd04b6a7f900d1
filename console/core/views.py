"""What front ends see: plain, serialisable snapshots of the domain.

The UI and the REST API render these; they never hold a database row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from console.core.versions import OcppVersion


# The vocabularies a front end offers as choices.
OCPP_VERSIONS = tuple(version.value for version in OcppVersion)
CONNECTOR_TYPES = ("Type2", "Type1", "CCS2", "CCS1", "CHAdeMO", "GB/T", "NACS", "Schuko")
# 2.0.1's IdTokenEnumType; a 1.6 idTag has no type and matches a token of any type.
TOKEN_TYPES = ("ISO14443", "ISO15693", "eMAID", "Central", "KeyCode", "Local", "MacAddress", "NoAuthorization")
TOKEN_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the seeds write times."""
    if moment is None:
        return None
    if moment.tzinfo is timezone.utc:  # most times: no conversion to make
        return moment.isoformat().replace("+00:00", "Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


class View:
    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class LocationView(View):
    id: str
    name: str
    address: str | None = None
    power_cap_kw: float | None = None
    # Filled in when listed: what the location's chargers draw now and what the cap leaves.
    delivered_kw: float = 0.0
    headroom_kw: float | None = None


@dataclass(frozen=True, slots=True)
class ConnectorView(View):
    connector_id: int
    status: str
    error_code: str | None = None
    # From its meter values: the current drawn now (A, highest phase) and the EV's state of charge.
    current_a: float | None = None
    soc_percent: float | None = None


@dataclass(frozen=True, slots=True)
class ProtocolWarning(View):
    """One way a charger's messages broke OCPP that the central system let through, and how often."""

    text: str
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class ActionSummary(View):
    id: str
    command: str
    state: str
    created_at: datetime
    updated_at: datetime
    detail: str | None = None
    # The round trip of its CALL, once answered (or failed after it was sent).
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ChargerView(View):
    """A charger's record (the seed's fields) with its live state."""

    id: str
    identity: str
    name: str | None
    vendor_name: str | None
    model: str | None
    image_url: str | None
    ocpp_version: str
    number_of_connectors: int
    max_charging_power: int
    connector_type: str | None
    location_id: str | None
    created_at: datetime
    updated_at: datetime
    simulated: bool = False
    organization_id: str | None = None
    user_id: str | None = None
    location_name: str | None = None
    status: str = "offline"
    is_connected: bool = False
    is_charging: bool = False
    current_power_kw: float = 0.0
    # The current drawn now (A, its connectors together), when its meter values report it.
    current_a: float | None = None
    max_current_a: float | None = None
    session_energy_kwh: float = 0.0
    connected_since: datetime | None = None
    last_seen: datetime | None = None
    provisioning: str = "created"
    runtime: str | None = None
    runtime_detail: str | None = None
    firmware_version: str | None = None
    firmware_status: str | None = None
    registration: str = "accepted"
    offline_since: datetime | None = None
    last_failure: str | None = None
    reconnects: int = 0
    ping_rtt_ms: float | None = None
    security_profile: int = 0
    connectors: tuple[ConnectorView, ...] = field(default_factory=tuple)
    last_action: ActionSummary | None = None
    # The scheduled or windowed command that governs the charger next (the seed's currentSchedule).
    current_schedule: dict[str, Any] | None = None
    # Tolerant mode: messages that break the schema as quirky firmware does are taken, with a warning.
    tolerant: bool = False
    # The security profile its record says it must connect with at least (None: no minimum).
    required_security_profile: int | None = None
    # The ways its messages broke OCPP that were let through, newest first (the latest few, each counted).
    protocol_warnings: tuple[ProtocolWarning, ...] = ()
    # The station's own meter (connector or EVSE 0), apart from its connectors.
    station_power_kw: float | None = None
    station_energy_kwh: float | None = None
    # How far the charger's clock is off (s, theirs minus ours), when beyond the allowed skew.
    clock_offset_s: float | None = None
    # The power limit in force (kW) and where it comes from: "command", "location cap" or "charger maximum".
    limit_kw: float | None = None
    limit_source: str | None = None
    # The last diagnostics or log upload it reported: "DiagnosticsLog Uploading", "SecurityLog Uploaded" (since the console started).
    upload_status: str | None = None
    # Its reservations in force, as read: "connector 1 for VAN-1 until 2026-04-02T10:00:00Z (#3)".
    reservations: tuple[str, ...] = ()

    SEED_FIELDS = (
        "id",
        "identity",
        "name",
        "vendor_name",
        "model",
        "image_url",
        "ocpp_version",
        "number_of_connectors",
        "max_charging_power",
        "connector_type",
        "location_id",
        "created_at",
        "updated_at",
    )

    def seed_dict(self) -> dict[str, Any]:
        """Exactly the seed's charger object."""
        return {name: _jsonable(getattr(self, name)) for name in self.SEED_FIELDS}


@dataclass(frozen=True, slots=True)
class LogView(View):
    """One line of a charger's log: an OCPP frame in or out, or a console event."""

    id: int
    charger_id: str | None
    identity: str
    at: datetime
    direction: str  # "in" (from the charger), "out" (to it), "event"
    action: str | None
    message_id: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ActionView(View):
    """One action in a charger's history: what was asked, and what became of it."""

    id: str
    charger_id: str
    identity: str
    command: str
    parameters: dict[str, Any]
    execution: str
    state: str
    detail: str | None
    created_at: datetime
    updated_at: datetime
    start_at: datetime | None = None
    end_at: datetime | None = None
    # For OCPP operations: which one, the charger's answer, why it failed, and how long it took.
    operation: str | None = None
    result: dict[str, Any] | None = None
    reason: str | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    duration_ms: float | None = None
    # The API key that asked for it (its id); None: the console's operator, or the console itself.
    key_id: str | None = None

    @property
    def link(self) -> str:
        return f"/actions/{self.id}"


@dataclass(frozen=True, slots=True)
class TransactionView(View):
    """A charging session, whichever OCPP version ran it."""

    id: int
    charger_id: str
    reference: str | None
    connector_id: int
    id_tag: str
    started_at: datetime
    stopped_at: datetime | None
    energy_kwh: float | None
    stop_reason: str | None
    # What had to be repaired (see Transaction): none of these for a session that went by the book.
    reconstructed: bool = False
    start_known: bool = True
    incomplete: bool = False
    missing_seq_nos: str | None = None
    closed_by: str | None = None
    meter_anomaly: str | None = None
    clock_skewed: bool = False
    charger_started_at: datetime | None = None
    charger_stopped_at: datetime | None = None
    # Why it is not a valid session (its charger was Pending registration); None for a valid one.
    refused: str | None = None

    def duration_s(self, now: datetime) -> float:
        return ((self.stopped_at or now) - self.started_at).total_seconds()

    @property
    def repairs(self) -> tuple[str, ...]:
        """One word for each thing that needed repair: reconstructed, superseded, reboot, incomplete, meter, clock."""
        words = []
        if self.reconstructed:
            words.append("reconstructed")
        if self.closed_by:
            words.append(self.closed_by)
        if self.incomplete:
            words.append("incomplete")
        if self.meter_anomaly:
            words.append("meter")
        if self.clock_skewed:
            words.append("clock")
        return tuple(words)


@dataclass(frozen=True, slots=True)
class ChargerEventView(View):
    """Something a charger told about itself: a NotifyEvent, a security event, a firmware or upload status, a report page, vendor data, a fault."""

    id: int | None
    charger_id: str
    identity: str
    at: datetime
    kind: str
    severity: str  # "alert" | "security" | "warning" | "info"
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PowerSample(View):
    at: datetime
    kw: float


@dataclass(frozen=True, slots=True)
class UnknownChargerView(View):
    """An identity not in the fleet that tried to connect."""

    identity: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    remote_address: str | None
    offered: str | None
    decision: str


@dataclass(frozen=True, slots=True)
class BackendInfo(View):
    mode: str  # "embedded" | "attached"
    ocpp_url: str
    store: str
    read_only: bool = False
    # Why the store takes no writes now (None: it does).
    store_unavailable: str | None = None
    # Attach mode: the server that cannot be reached now (None: it answers).
    server_lost: str | None = None
    # How far back raw frame logs and meter samples go (the oldest kept; None: none kept, or no pruning):
    # older samples are in 15-minute roll-ups.
    frames_since: datetime | None = None
    samples_since: datetime | None = None


def clock_offset_words(offset_s: float) -> str:
    """How far a charger's clock is off, in the unit that reads best: "54.3 years behind", "2.0 days ahead"."""
    size = abs(offset_s)
    if size >= 365 * 86_400:
        amount = f"{size / (365.25 * 86_400):.1f} years"
    elif size >= 86_400:
        amount = f"{size / 86_400:.1f} days"
    elif size >= 3_600:
        amount = f"{size / 3_600:.1f} h"
    else:
        amount = f"{size / 60:.0f} min"
    return f"{amount} {'ahead' if offset_s > 0 else 'behind'}"


@dataclass(frozen=True, slots=True)
class OperationResult(View):
    """What became of one operation to one charger (an action, as the front ends see it)."""

    action_id: str | None
    charger_id: str
    identity: str
    operation: str
    command: str
    state: str
    request: dict[str, Any]
    answer: dict[str, Any] | None = None
    status: str | None = None
    reason: str | None = None
    detail: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    duration_ms: float | None = None

    @property
    def acknowledged(self) -> bool:
        return self.state == "acknowledged"


@dataclass(frozen=True, slots=True)
class TokenView(View):
    id: str
    token: str
    type: str
    status: str
    expires_at: datetime | None
    parent_id: str | None
    label: str | None
    location_ids: list[str]
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SettingView(View):
    """One configuration key (1.6) or device-model variable (2.0.1) as the charger last reported it."""

    key: str
    value: str | None
    readonly: bool = False
    data_type: str | None = None
    fetched_at: datetime | None = None
    # Why changing it can strand the charger (it may not connect again); None for an ordinary key.
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class ConfigurationView(View):
    """A charger's configuration as last fetched: 1.6 GetConfiguration, or 2.0.1 GetBaseReport's NotifyReport pages."""

    charger_id: str
    ocpp_version: str
    settings: tuple[SettingView, ...] = ()
    fetched_at: datetime | None = None
    # Keys the charger said it does not know (1.6 unknownKey).
    unknown_keys: tuple[str, ...] = ()
    # Why the last fetch did not bring a whole configuration (offline, refused, report pages missing).
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ReservationView(View):
    """A connector reserved for an id token (ReserveNow), and what became of it."""

    id: int
    charger_id: str
    identity: str
    connector_id: int
    id_tag: str
    expires_at: datetime
    # requested, accepted, cancelled, expired (an accepted one past its expiry), refused, failed.
    state: str
    detail: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SchedulePeriodView(View):
    """From `start_s` seconds after the schedule's start, at most `limit` (in the schedule's unit)."""

    start_s: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class CompositeScheduleView(View):
    """The charging schedule a charger reports for a connector (GetCompositeSchedule): what it will draw at most, over time."""

    charger_id: str
    connector_id: int
    status: str
    start: datetime | None = None
    duration_s: int | None = None
    unit: str | None = None
    periods: tuple[SchedulePeriodView, ...] = ()
    # Why there is no schedule (the charger refused, was offline, …).
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileView(View):
    """A charging profile the console installed on a charger and has not cleared since."""

    profile_id: int
    connector_id: int
    purpose: str
    stack_level: int
    unit: str
    limit: float
    command: str
    action_id: str
    installed_at: datetime


@dataclass(frozen=True, slots=True)
class LocalListView(View):
    """A charger's local authorization list: the version it was last given, and whether that is today's registry."""

    charger_id: str
    version: int
    entries: int
    current: bool
    pushed_at: datetime | None = None
