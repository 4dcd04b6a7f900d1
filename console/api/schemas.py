"""Request and response models: what /openapi.json declares, and what the routes are checked against."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from console.core.views import ProtocolWarning
from console.core.versions import OcppVersion

T = TypeVar("T")


def one_of(names: Any, *, nullable: bool = False, **field: Any) -> Any:
    """A text field whose schema lists the names it takes (an enum) while the server checks it itself:
    a request's value is refused by the core with its own code, and a stored value never fails an answer."""
    values: list[Any] = list(get_args(names))
    return Field(json_schema_extra={"enum": values + [None] if nullable else values}, **field)


# -- the names the seeds fix, as enums -----------------------------------------------------

# A charger's live status: offline, or the status of the connector that matters most.
ChargerStatus = Literal["offline", "faulted", "charging", "suspended", "preparing", "finishing", "reserved", "available", "unavailable"]
# The commands the device API takes, how they run, and what settles a conflict (core/engine.py).
Command = Literal["charge", "idle"]
Execution = Literal["immediate", "scheduled", "windowed"]
OnConflict = Literal["cancel_and_replace", "queue_after"]
# An action's states, from asked to settled (core/ledger.py, core/engine.py).
ActionState = Literal["scheduled", "pending", "sent", "acknowledged", "completed", "rejected", "failed", "cancelled", "expired", "unknown"]


# -- envelope ------------------------------------------------------------------------


class Meta(BaseModel):
    requestId: str = Field(examples=["req_8a2Bf3kP"])
    environment: str = Field(examples=["production"])
    timestamp: datetime
    latencyMs: int


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: Meta


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str
    details: list[ErrorDetail] | None = None


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody
    meta: Meta


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Missing, wrong, revoked or expired API key",
        403: "The API key does not have the scope this needs (read, operate or admin)",
        404: "Not found in the key's organization",
        409: "Conflicts with the charger's or action's current state",
        422: "Invalid request: every bad field is listed in error.details",
        429: "Too many requests (or event streams) for this key or address: wait Retry-After seconds",
    }
    return {status: {"model": ErrorEnvelope, "description": descriptions[status]} for status in statuses}


# -- the charger deployment API (first seed) ------------------------------------------


class Charger(BaseModel):
    id: str = Field(examples=["dep-123"])
    identity: str = Field(examples=["CP-TEST-001"])
    name: str | None = None
    vendor_name: str | None = None
    model: str | None = None
    image_url: str | None = None
    ocpp_version: str | None = Field(default=None, examples=[OcppVersion.V16.value])
    number_of_connectors: int | None = None
    max_charging_power: int | None = Field(default=None, description="watts")
    connector_type: str | None = None
    location_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ChargerFields(BaseModel):
    """A charger's writable fields. On create `identity` is required; on update only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    identity: str | None = Field(default=None, examples=["CP-TEST-001"])
    name: str | None = None
    vendor_name: str | None = None
    model: str | None = None
    image_url: str | None = None
    ocpp_version: str | None = Field(default=None, examples=[OcppVersion.V16.value])
    number_of_connectors: int | None = None
    max_charging_power: int | None = Field(default=None, description="watts")
    connector_type: str | None = None
    location_id: str | None = None
    simulated: bool | None = Field(default=None, description="run a simulated charge point for it")
    user_id: str | None = Field(default=None, description="the owner (the device API's userId)")
    password: str | None = Field(default=None, description="OCPP Basic auth password (security profile 1/2); stored hashed")
    tolerant: bool | None = Field(
        default=None,
        description="tolerant mode: transaction and meter messages that break the schema as quirky firmware does "
        "(an extra field, an over-long idTag, a unit in the wrong case, a number sent as text) are taken, each "
        "deviation a protocol warning, instead of refused with a CALLERROR (default false)",
    )
    security_profile: int | None = Field(
        default=None, ge=1, le=3,
        description="the OCPP security profile it must connect with at least: 1 Basic auth, 2 TLS and Basic auth, "
        "3 TLS with a client certificate whose CN is its identity (null: no minimum)",
    )
    # A charger object read from this API may be sent back as it is; the server owns these.
    id: str | None = Field(default=None, description="ignored: the server assigns it")
    created_at: str | None = Field(default=None, description="ignored")
    updated_at: str | None = Field(default=None, description="ignored")

    def fields(self) -> dict[str, Any]:
        """The fields the request set, for the core to check."""
        return self.model_dump(exclude_unset=True, exclude={"id", "created_at", "updated_at"})


class ProvisioningStage(BaseModel):
    name: str
    status: str
    detail: str | None = None


class Provisioning(BaseModel):
    charger_id: str
    identity: str
    status: str = Field(description="created, awaiting_boot, accepted, rejected, failed ...")
    registration: str
    runtime: str | None = None
    runtime_detail: str | None = None
    is_connected: bool
    connected_since: datetime | None = None
    offline_since: datetime | None = None
    last_failure: str | None = None
    stage: str | None = Field(default=None, description="simulated chargers: the runtime's current stage")
    stages: list[ProvisioningStage] | None = None
    verdict: str | None = None
    hint: str | None = None
    tolerant: bool = Field(default=False, description="the charger's tolerant setting (a server started with --tolerant takes every charger so)")
    security_profile: int | None = Field(default=None, description="the security profile it must connect with at least (null: none)")
    protocol_warnings: list[ProtocolWarning] = Field(
        default_factory=list, description="the ways its messages broke OCPP that were let through, newest first, each counted"
    )


class RuntimeOutcome(BaseModel):
    charger_id: str
    identity: str
    command: str = Field(examples=["start"])
    message: str = Field(description="what happened, in words")
    runtime: str | None = None


class LogLine(BaseModel):
    id: int
    charger_id: str | None
    identity: str
    at: datetime
    direction: str = Field(description='"in" (from the charger), "out" (to it) or "event"')
    action: str | None
    message_id: str | None
    message: str


class ChargerEventLine(BaseModel):
    """Something the charger told about itself (NotifyEvent, security event, firmware/diagnostics/log status, report page, DataTransfer, a fault)."""

    id: int | None
    charger_id: str
    identity: str
    at: datetime
    kind: str = Field(description="NotifyEvent, SecurityEvent, StatusNotification (a fault), FirmwareStatus, DiagnosticsStatus, LogStatus, NotifyReport, DataTransfer")
    severity: str = Field(description='"alert", "security", "warning" or "info"')
    text: str = Field(description="what the charger said, in one line")
    data: dict[str, Any] = Field(description="the message's payload as the charger sent it")


# -- the EV charger device API (second seed) ------------------------------------------


class Sync(BaseModel):
    available: bool
    lastPulledAt: datetime | None


class DeviceMetadata(BaseModel):
    model: str | None
    source: str = Field(description='"live" when connected, else "cache"')


class DeviceState(BaseModel):
    status: str = one_of(ChargerStatus)
    isConnected: bool
    isCharging: bool
    currentPower: float = Field(description="kW")
    maxCurrent: float | None = Field(description="A")
    powerRateLimit: float = Field(description="kW: the limit in force")


class CommandSpec(BaseModel):
    parameters: dict[str, Any]
    execution: list[Execution]


class Links(BaseModel):
    self: str


class LastAction(BaseModel):
    id: str
    command: str = Field(description="charge, idle, or the operation or runtime request (reset, start, ...)")
    state: str = one_of(ActionState)
    createdAt: datetime
    updatedAt: datetime
    links: Links


class Schedule(BaseModel):
    actionId: str
    command: str = one_of(Command)
    execution: str = one_of(Execution)
    start: datetime | None
    end: datetime | None
    state: str = one_of(ActionState)


class Device(BaseModel):
    id: str
    vendor: str | None
    sync: Sync
    metadata: DeviceMetadata
    state: DeviceState
    commands: dict[str, CommandSpec]
    conflictStrategies: list[OnConflict]
    lastAction: LastAction | None
    currentSchedule: Schedule | None


class Pagination(BaseModel):
    limit: int
    offset: int
    total: int
    hasMore: bool


class DeviceList(BaseModel):
    items: list[Device]
    pagination: Pagination


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = one_of(Command, examples=["charge"])
    parameters: dict[str, Any] | None = Field(default=None, examples=[{"powerLimit": 7.4}])
    execution: str | None = one_of(Execution, nullable=True, default=None, description="default: from start/end")
    start: str | None = Field(default=None, description="ISO 8601 time, or 'now'", examples=["2026-05-07T22:00:00Z"])
    end: str | None = Field(default=None, description="ISO 8601 time: the end of a windowed command")
    onConflict: str | None = one_of(
        OnConflict, nullable=True, default=None, description="what to do when an earlier command is still open", examples=["cancel_and_replace"]
    )


class DeviceAction(BaseModel):
    id: str
    deviceId: str
    command: str = Field(description="charge, idle, or the operation or runtime request (reset, start, ...)")
    parameters: dict[str, Any]
    execution: str = one_of(Execution)
    state: str = one_of(ActionState)
    detail: str | None
    createdAt: datetime
    updatedAt: datetime
    links: Links
    keyId: str | None = Field(description="the API key that asked for it (its id, never the key); null: the console's operator or the console itself")


class ActionList(BaseModel):
    items: list[DeviceAction]
    pagination: Pagination


# -- ours: health and the console's internal endpoints ----------------------------------


class StoreHealth(BaseModel):
    reachable: bool
    url: str
    writable: bool = Field(description="a real write went through just now")
    reason: str | None = Field(description="why the store takes no writes (locked, read-only, full, unreachable)")
    queued: int = Field(description="acknowledged rows waiting to be written")
    dropped: int = Field(description="rows dropped since start because the queue was full while the store was unavailable")


class OcppHealth(BaseModel):
    url: str
    listening: bool


class Counts(BaseModel):
    chargers: int = Field(description="the organization's chargers")
    connected: int


class ApiCounts(BaseModel):
    failed_authentications: int = Field(description="requests refused for a wrong or revoked key since start (all addresses)")
    rate_limited: int = Field(description="requests refused with 429 since start")


class Health(BaseModel):
    status: str = Field(description='"ok", or "degraded" when the store takes no writes or the OCPP server is not listening')
    store: StoreHealth
    ocpp: OcppHealth
    counts: Counts
    api: ApiCounts


class Liveness(BaseModel):
    """/health without a key: whether the server is up, nothing more."""

    status: str = Field(description='"ok", or "degraded" when the store takes no writes or the OCPP server is not listening')


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any]
    charger_id: str | None = None


class Problems(BaseModel):
    problems: dict[str, str] = Field(description="field name -> what is wrong (empty when all is well)")


class AcceptUnknown(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ocpp_version: str = OcppVersion.V16.value


class LocationCap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    power_cap_kw: float | None = Field(description="kW above 0, or null to remove the cap")


class ConsoleCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = one_of(Command)
    parameters: dict[str, Any] | None = None
    execution: str | None = one_of(Execution, nullable=True, default=None)
    start: str | None = None
    end: str | None = None
    on_conflict: str | None = one_of(OnConflict, nullable=True, default=None)


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hard: bool = False


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector_id: int = Field(ge=0, le=1000)


class AvailabilityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connector_id: int = Field(ge=0, le=1000, description="0 is the whole charger")
    operative: bool


class SimulatorControl(BaseModel):
    """An operator control on a simulated charger (lab)."""

    model_config = ConfigDict(extra="forbid")

    control: Literal["plug_in", "unplug", "present_id_tag", "inject_fault", "clear_fault", "drop_connection"]
    connector_id: int = Field(1, ge=1, le=8)
    soc: float | None = Field(None, ge=0, le=100, description="plug_in: the EV's state of charge, %")
    battery_kwh: float | None = Field(None, gt=0, le=300, description="plug_in: the EV's battery size")
    id_tag: str | None = Field(None, min_length=1, max_length=20, description="present_id_tag: the tag")
    error_code: str = Field("OtherError", max_length=50, description="inject_fault: the OCPP error code")


class ControlOutcome(BaseModel):
    charger_id: str
    control: str
    message: str = Field(description="what happened, in words")


class LocationRuntime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: Literal["start", "stop", "restart"]


class LocationRuntimeOutcome(BaseModel):
    location_id: str
    command: str
    messages: list[str] = Field(description="what happened to each simulated charger, in words")


# -- charging sessions (the console's endpoints) -----------------------------------------


class Transaction(BaseModel):
    """A charging session (the core's TransactionView) with `repairs`: what the console had to repair in it."""

    id: int
    charger_id: str
    reference: str | None = Field(description="the charger's own id for it (1.6: the id we handed out)")
    connector_id: int = Field(description="0 when a reconstructed session's connector is not known")
    id_tag: str
    started_at: datetime = Field(description="the stop's time when start_known is false")
    stopped_at: datetime | None
    energy_kwh: float | None = Field(description="never negative; null when the readings do not tell")
    stop_reason: str | None
    reconstructed: bool = Field(description="opened from its stop (1.6) or a later event (2.0.1): its start never arrived")
    start_known: bool = Field(description="false: the start time and meterStart were never reported")
    incomplete: bool = Field(description="2.0.1: events are missing (the Started, or the seqNos in missing_seq_nos)")
    missing_seq_nos: str | None = Field(description="2.0.1: the seqNos never received, e.g. 1,3")
    closed_by: Literal["superseded", "reboot"] | None = Field(
        description="closed by the console, not the charger: a later start on its connector, or the charger booted afresh"
    )
    meter_anomaly: str | None = Field(description="why the readings could not be taken as they are (a meter that went backwards)")
    clock_skewed: bool = Field(description="the charger's clock was off: started_at/stopped_at are the server's receive times")
    charger_started_at: datetime | None = Field(description="the charger's own start time when its clock was off")
    charger_stopped_at: datetime | None = Field(description="the charger's own stop time when its clock was off")
    refused: str | None = Field(
        default=None, description="why it is not a valid session (its charger was Pending registration); null for a valid one"
    )
    repairs: list[str] = Field(
        description="one word for each thing repaired: reconstructed, superseded, reboot, incomplete, meter, clock",
        examples=[["reconstructed", "incomplete"]],
    )


class ExportedSample(BaseModel):
    at: datetime
    connector_id: int
    measurand: str
    phase: str | None
    unit: str | None
    value: float


class SignedReading(BaseModel):
    at: datetime
    measurand: str
    phase: str | None
    context: str | None
    data: Any = Field(description="as the charger sent it: 1.6 the sampled value's value, 2.0.1 the signedMeterValue object")
    value: float | None = Field(description="2.0.1: the plain value the signature is for")


class TransactionExport(BaseModel):
    """A session with every reading of it, signed ones verbatim: what an audit (Eichrecht, OCMF) asks for."""

    transaction: Transaction
    meter_values: list[ExportedSample]
    signed_meter_values: list[SignedReading]


# -- API keys (admin) -----------------------------------------------------------------------

Scope = Literal["read", "operate", "admin"]


class ApiKeyInfo(BaseModel):
    """A key's record; the key itself is shown only once, when it is created."""

    id: str = Field(examples=["key_4f2a9c01d4e6"])
    prefix: str = Field(description="the key's first characters, to tell keys apart", examples=["ocpp_sk_Ab3dEf"])
    label: str | None
    scopes: list[Scope] = Field(description="read; operate: commands, runtime, simulator controls; admin: fleet, keys, caps, tokens")
    createdAt: datetime
    expiresAt: datetime | None = Field(description="refused from then on; null: never")
    lastUsedAt: datetime | None = Field(description="the last request with it, to within a minute")
    revokedAt: datetime | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo]
    pagination: Pagination


class NewApiKey(ApiKeyInfo):
    key: str = Field(description="the key: shown this once, stored only as a hash")


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=100)
    scopes: list[Scope] = Field(default=["read", "operate", "admin"], min_length=1)
    expiresAt: datetime | None = Field(default=None, description="ISO 8601, in the future; null: never expires")
