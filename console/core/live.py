"""Live state of the fleet: what the central system and the runtimes report.

The central system writes through here; this keeps an in-memory picture of
every charger (so views are cheap), persists what matters, batches what comes
often, and publishes a fresh snapshot on every change: at once for a change
of state, within PUBLISH_DELAY (once, however many came) for heartbeats, meter
values and ping times, which come far more often than anyone renders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from console.core.clock import Clock
from console.core.errors import StoreUnavailable
from console.core import chargerevents
from console.core.events import ChargerAlert, ChargerRemoved, ChargerUpdated, EventBus, LogAppended
from console.core.models import (
    Action,
    Charger,
    ChargerEvent,
    ChargerState,
    Connector,
    Location,
    LogEntry,
    MeterSample,
    SignedMeterValue,
    Transaction,
)
from console.core.sessions import (
    KILO_UNITS,
    Meter,
    Sample,
    SignedSample,
    as_utc,
    in_base_unit,
    parse_seq_ranges,
    power_of,
    register_readings,
    seq_gaps,
    seq_ranges,
    session_refusal,
)
from console.core.rates import WATTS, ChargingRate
from console.core.store import Store
from console.core.views import (
    ActionSummary,
    ChargerEventView,
    ChargerView,
    ConnectorView,
    LocationView,
    LogView,
    ProtocolWarning,
    clock_offset_words,
)
from console.core.writer import BatchWriter

# Connector statuses of both OCPP versions, as the domain's lower-case words.
STATUS_WORDS = {
    "Available": "available",
    "Preparing": "preparing",
    "Charging": "charging",
    "SuspendedEV": "suspended",
    "SuspendedEVSE": "suspended",
    "Finishing": "finishing",
    "Reserved": "reserved",
    "Unavailable": "unavailable",
    "Faulted": "faulted",
    "Occupied": "preparing",
}
# When connectors disagree, the charger shows the one that matters most.
STATUS_PRIORITY = (
    "faulted",
    "charging",
    "suspended",
    "preparing",
    "finishing",
    "reserved",
    "available",
    "unavailable",
)
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"
# A charger's clock this far from ours (s) is wrong (a lost RTC, a bad NTP answer): 24 h.
DEFAULT_CLOCK_SKEW_S = 86400.0
# Seconds a high-rate change (heartbeat, meter values, ping time) waits to be published.
PUBLISH_DELAY = 0.1
# The distinct protocol warnings a charger keeps (the latest), each with its count.
PROTOCOL_WARNINGS = 20
# High-rate rows go to the writer as column values, not ORM objects.
LOG_TABLE = LogEntry.__table__  # type: ignore[attr-defined]
SAMPLE_TABLE = MeterSample.__table__  # type: ignore[attr-defined]
STATE_TABLE = ChargerState.__table__  # type: ignore[attr-defined]
CONNECTOR_TABLE = Connector.__table__  # type: ignore[attr-defined]
CONNECTOR_KEY = ("charger_id", "connector_id")
STATE_COLUMNS = tuple(column.name for column in STATE_TABLE.columns)
LOG_COLUMNS = ("id", "charger_id", "identity", "at", "direction", "action", "message_id", "message")
SAMPLE_COLUMNS = ("charger_id", "transaction_id", "connector_id", "at", "measurand", "phase", "unit", "value")


@dataclass
class Session_:
    """The open transaction on one connector: its energy as readings come, and (2.0.1) the seqNos received."""

    transaction_id: int
    meter_start_wh: int
    reference: str | None = None
    meter: Meter = field(default_factory=Meter)
    seq_nos: set[int] = field(default_factory=set)


def _state_row_type() -> type:
    """A plain slotted class with ChargerState's fields and defaults.

    The live state changes on every message; setting an attribute of a table
    model goes through pydantic and SQLAlchemy's instrumentation each time.
    Made from the model, so a column added there is kept here too.
    """
    required, optional = [], []
    for name, info in ChargerState.model_fields.items():
        if info.is_required():
            required.append((name, Any))
        elif info.default_factory is not None:
            optional.append((name, Any, field(default_factory=info.default_factory)))  # type: ignore[arg-type]
        else:
            optional.append((name, Any, field(default=info.default)))
    return make_dataclass("StateRow", [*required, *optional], slots=True)


StateRow: Any = _state_row_type()


def state_row(state: ChargerState) -> Any:
    return StateRow(**{name: getattr(state, name) for name in STATE_COLUMNS})


@dataclass
class LiveCharger:
    record: Charger
    state: Any  # a StateRow: ChargerState's values
    connectors: dict[int, ConnectorView] = field(default_factory=dict)
    sessions: dict[int, Session_] = field(default_factory=dict)
    power_w: dict[int, float] = field(default_factory=dict)
    # The last energy register reading per connector (Wh), to start the next session from.
    registers: dict[int, float] = field(default_factory=dict)
    last_action: ActionSummary | None = None
    runtime: str | None = None
    runtime_detail: str | None = None
    ping_rtt_ms: float | None = None
    current_schedule: dict[str, Any] | None = None
    # The station's own meter (OCPP connector or EVSE 0): shown apart, never added to the connectors.
    station_power_w: float | None = None
    station_energy_wh: float | None = None
    # (writer key, values reader) of its live-state row, made at the first touch.
    persist: tuple[tuple[str, str], Callable[[], dict[str, Any] | None]] | None = None
    # Its protocol warnings by text, the latest last.
    protocol_warnings: dict[str, ProtocolWarning] = field(default_factory=dict)
    # The power limits (kW) the charger accepted, by source: "command", "location cap".
    limits: dict[str, float] = field(default_factory=dict)
    # The last log upload status it reported (kept in memory: the events keep the history).
    upload_status: str | None = None


class LiveState:
    def __init__(self, store: Store, bus: EventBus, clock: Clock, writer: BatchWriter) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.writer = writer
        self._log_rows = writer.rows(LOG_TABLE, LOG_COLUMNS)
        self._sample_rows = writer.rows(SAMPLE_TABLE, SAMPLE_COLUMNS)
        self._chargers: dict[str, LiveCharger] = {}
        self._by_identity: dict[str, str] = {}
        self._locations: dict[str, LocationView] = {}
        self._next_log_id = 1
        # On a cluster node: where log entries' ids come from (core.cluster.IdBlocks), so no two nodes give one.
        self.log_ids: Callable[[], int] | None = None
        # Told (charger id, saved or removed) when a charger's record changes here (a cluster tells the other nodes).
        self.record_listeners: list[Callable[[str, bool], None]] = []
        # On a cluster node: a charger's open sessions are read again when it connects (another node may have had it).
        self.resume_on_connect = False
        self._unpublished: set[str] = set()
        self._publish_timer: asyncio.TimerHandle | None = None
        # Whether the central system serves wss:// (for the security profile shown).
        self.tls = False
        # How far (s) a charger's clock may be from ours before its times are taken as wrong.
        self.max_clock_skew_s = DEFAULT_CLOCK_SKEW_S
        # Told of every firmware status a charger reports (charger id, status): rolling updates follow them.
        self.firmware_listeners: list[Callable[[str, str], None]] = []
        # Each charger's accepted reservations: (expiry, connector, what to show), kept by console/core/reservations.py.
        self.reservations: dict[str, list[tuple[datetime, int, str]]] = {}
        # The unit each charger takes its charging limits in, where it is not watts (console/core/configuration.py sets it).
        self.charging_rates: dict[str, ChargingRate] = {}
        # Told of every charger event kept (charger id, kind, data): a report's pages reach who asked for it.
        self.event_listeners: list[Callable[[str, str, dict[str, Any]], None]] = []

    # -- loading ---------------------------------------------------------------------

    def load(self, session: Session) -> None:
        """Read the whole fleet into memory; runs on the store thread at start-up.

        Nobody is connected when the process starts, whatever the store says.
        """
        self._chargers.clear()
        self._by_identity.clear()
        self._locations = {
            location.id: LocationView(
                id=location.id,
                name=location.name,
                address=location.address,
                power_cap_kw=location.power_cap_kw,
            )
            for location in session.exec(select(Location)).all()
        }
        states = {state.charger_id: state for state in session.exec(select(ChargerState)).all()}
        connectors: dict[str, dict[int, ConnectorView]] = {}
        for row in session.exec(select(Connector)).all():
            connectors.setdefault(row.charger_id, {})[row.connector_id] = ConnectorView(
                connector_id=row.connector_id, status=row.status, error_code=row.error_code
            )
        for charger in session.exec(select(Charger)).all():
            state = states.get(charger.id) or ChargerState(charger_id=charger.id)
            was_connected = state.is_connected
            state.is_connected = False
            state.is_charging = False
            state.current_power_kw = 0.0
            state.status = "offline"
            if was_connected:
                state.provisioning = "offline"
            self._add(charger, state, connectors.get(charger.id, {}))
        self._load_sessions(session)
        # Each charger's latest action, in one query rather than one per charger.
        newest_first = (
            func.row_number()
            .over(partition_by=Action.charger_id, order_by=Action.created_at.desc())  # type: ignore[attr-defined]
            .label("newest_first")
        )
        ranked = select(Action.id, newest_first).subquery()
        latest_actions = select(Action).join(ranked, ranked.c.id == Action.id).where(ranked.c.newest_first == 1)
        for latest in session.exec(latest_actions).all():
            live = self._chargers.get(latest.charger_id)
            if live is not None:
                live.last_action = summarize_action(latest)
        highest = session.exec(select(func.max(LogEntry.id))).one()
        self._next_log_id = (highest or 0) + 1
        session.commit()

    def _load_sessions(self, session: Session, charger_id: str | None = None) -> None:
        """The open sessions (of one charger, or all), each with its last reading; a connector left with two
        (a store from before this rule) keeps the newest, and the older is closed as superseded."""
        query = select(Transaction).where(Transaction.stopped_at.is_(None))  # type: ignore[union-attr]
        if charger_id is not None:
            query = query.where(Transaction.charger_id == charger_id)
        open_rows = session.exec(query.order_by(col(Transaction.started_at), col(Transaction.id))).all()
        for open_tx in open_rows:
            live = self._chargers.get(open_tx.charger_id)
            if live is None:
                continue
            older = live.sessions.get(open_tx.connector_id)
            if older is not None:
                stale = session.get(Transaction, older.transaction_id)
                if stale is not None:
                    ended = max(as_utc(open_tx.started_at), as_utc(stale.started_at))
                    _close_ourselves(session, stale, older.meter, ended, "Superseded", "superseded")
            live.sessions[open_tx.connector_id] = Session_(
                open_tx.id or 0,
                open_tx.meter_start_wh,
                reference=open_tx.transaction_ref,
                meter=_meter_of(open_tx, _last_register(session, open_tx)),
                seq_nos=parse_seq_ranges(open_tx.seq_nos),
            )

    def _add(self, charger: Charger, state: ChargerState, connectors: dict[int, ConnectorView]) -> LiveCharger:
        live = LiveCharger(record=charger, state=state_row(state), connectors=dict(connectors))
        for number in range(1, charger.number_of_connectors + 1):
            live.connectors.setdefault(number, ConnectorView(connector_id=number, status="Unavailable"))
        self._chargers[charger.id] = live
        self._by_identity[charger.identity] = charger.id
        return live

    # -- records (from the fleet service) ------------------------------------------

    def record_saved(self, charger: Charger) -> None:
        for listener in self.record_listeners:
            listener(charger.id, True)
        live = self._chargers.get(charger.id)
        if live is None:
            self._add(charger, ChargerState(charger_id=charger.id), {})
        else:
            if live.record.identity != charger.identity:
                self._by_identity.pop(live.record.identity, None)
                self._by_identity[charger.identity] = charger.id
            live.record = charger
            for number in range(1, charger.number_of_connectors + 1):
                live.connectors.setdefault(number, ConnectorView(connector_id=number, status="Unavailable"))
            for number in [n for n in live.connectors if n > charger.number_of_connectors]:
                del live.connectors[number]
        self._publish(charger.id)

    def record_removed(self, charger: Charger) -> None:
        for listener in self.record_listeners:
            listener(charger.id, False)
        self._chargers.pop(charger.id, None)
        self._by_identity.pop(charger.identity, None)
        self.bus.publish(ChargerRemoved(charger_id=charger.id, identity=charger.identity))

    def locations_changed(self, locations: list[Location]) -> None:
        self._locations = {
            location.id: LocationView(
                id=location.id, name=location.name, address=location.address, power_cap_kw=location.power_cap_kw
            )
            for location in locations
        }

    # -- reads ---------------------------------------------------------------------

    def charger_id_for(self, identity: str) -> str | None:
        return self._by_identity.get(identity)

    def record(self, charger_id: str) -> Charger | None:
        live = self._chargers.get(charger_id)
        return live.record if live else None

    def ids(self) -> list[str]:
        return list(self._chargers)

    def locations(self) -> list[LocationView]:
        return sorted(self._locations.values(), key=lambda location: location.name)

    def view(self, charger_id: str) -> ChargerView:
        live = self._chargers[charger_id]
        record, state = live.record, live.state
        location = self._locations.get(record.location_id or "")
        energy_kwh = sum(session.meter.forward_wh for session in live.sessions.values()) / 1000
        limit_kw, limit_source = limit_in_force(record.max_charging_power, live.limits)
        return ChargerView(
            id=record.id,
            identity=record.identity,
            name=record.name,
            vendor_name=record.vendor_name,
            model=record.model,
            image_url=record.image_url,
            ocpp_version=record.ocpp_version,
            number_of_connectors=record.number_of_connectors,
            max_charging_power=record.max_charging_power,
            connector_type=record.connector_type,
            location_id=record.location_id,
            created_at=record.created_at,
            updated_at=record.updated_at,
            simulated=record.simulated,
            organization_id=record.organization_id,
            user_id=record.user_id,
            location_name=location.name if location else None,
            status=state.status,
            is_connected=state.is_connected,
            is_charging=state.is_charging,
            current_power_kw=round(state.current_power_kw, 2),
            current_a=_total_current(live.connectors.values()),
            max_current_a=state.max_current_a or round(record.max_charging_power / (3 * 230), 1),
            session_energy_kwh=round(energy_kwh, 3),
            connected_since=state.connected_since,
            last_seen=state.last_seen,
            # A rejection stands whatever the socket did since (it was closed then, and stays refused).
            provisioning="rejected" if record.registration == "rejected" else state.provisioning,
            runtime=live.runtime,
            runtime_detail=live.runtime_detail,
            firmware_version=state.firmware_version,
            firmware_status=state.firmware_status,
            registration=record.registration,
            offline_since=state.offline_since,
            last_failure=state.last_failure,
            reconnects=state.reconnects,
            ping_rtt_ms=live.ping_rtt_ms,
            security_profile=self.security_profile(record),
            current_schedule=live.current_schedule,
            connectors=tuple(live.connectors[number] for number in sorted(live.connectors)),
            last_action=live.last_action,
            station_power_kw=None if live.station_power_w is None else round(live.station_power_w / 1000, 2),
            station_energy_kwh=None if live.station_energy_wh is None else round(live.station_energy_wh / 1000, 3),
            clock_offset_s=state.clock_offset_s,
            tolerant=record.tolerant,
            required_security_profile=record.security_profile,
            protocol_warnings=tuple(reversed(live.protocol_warnings.values())),
            limit_kw=limit_kw,
            limit_source=limit_source,
            upload_status=live.upload_status,
            reservations=tuple(text for until, _, text in self.reservations.get(charger_id, ()) if until > self._now()),
        )

    def security_profile(self, record: Charger) -> int:
        """0: no auth; 1: Basic auth over ws://; 2: Basic auth over TLS; 3: a client certificate (its record requires one)."""
        if record.security_profile == 3 and self.tls:
            return 3
        if record.password_hash is None:
            return 0
        return 2 if self.tls else 1

    def views(self) -> list[ChargerView]:
        return [self.view(charger_id) for charger_id in self._chargers]

    def connected_count(self, organization_id: str) -> tuple[int, int]:
        """(chargers, connected) of an organization, without building views (/health with a key asks)."""
        mine = [live.state for live in self._chargers.values() if live.record.organization_id == organization_id]
        return len(mine), sum(1 for state in mine if state.is_connected)

    def listed(self, organization_id: str, location_id: str | None = None, status: str | None = None) -> list[str]:
        """The ids of an organization's chargers (at a location, in a status), by identity, without building their
        views: a page of a thousand chargers' list builds the hundred it shows."""
        found = [
            live.record
            for live in self._chargers.values()
            if live.record.organization_id == organization_id
            and (location_id is None or live.record.location_id == location_id)
            and (status is None or live.state.status == status)
        ]
        return [record.id for record in sorted(found, key=lambda record: record.identity)]

    # -- what the central system reports ------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _publish(self, charger_id: str) -> None:
        self._unpublished.discard(charger_id)
        if charger_id in self._chargers:
            self.bus.publish(ChargerUpdated(self.view(charger_id)))

    def _publish_soon(self, charger_id: str) -> None:
        """Publish within PUBLISH_DELAY, once for however many high-rate changes come meanwhile.

        Heartbeats, meter values and ping times arrive far more often than any
        front end renders; each snapshot published still carries the newest state.
        """
        if self._publish_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): at once
                self._publish(charger_id)
                return
            self._publish_timer = loop.call_later(PUBLISH_DELAY, self._publish_pending)
        self._unpublished.add(charger_id)

    def _publish_pending(self) -> None:
        self._publish_timer = None
        pending, self._unpublished = self._unpublished, set()
        for charger_id in pending:
            if charger_id in self._chargers:
                self.bus.publish(ChargerUpdated(self.view(charger_id)))

    async def _persist(self, live: LiveCharger) -> None:
        """Write the live state and return once it is committed (for changes that must survive a crash).

        It joins the writer's next batch (a group commit): a storm of thousands
        of chargers connecting costs a few transactions, not one each. The row
        is read when the batch is cut, so it is this change or a newer one.
        """
        charger_id = live.record.id
        await self.writer.commit(("state", charger_id), STATE_TABLE, lambda: self._state_values(charger_id))

    async def _persist_unanswered(self, live: LiveCharger) -> None:
        """`_persist` for a change no answer waits for (a connection opened or closed, a handshake refused).

        While the store cannot take writes the row stays queued and is written
        once it can: a charger is not refused a connection for a store that is down.
        """
        with contextlib.suppress(StoreUnavailable):
            await self._persist(live)

    def _touch(self, live: LiveCharger) -> None:
        live.state.last_seen = self._now()
        persist = live.persist
        if persist is None:
            charger_id = live.record.id
            persist = live.persist = (("state", charger_id), functools.partial(self._state_values, charger_id))
        self.writer.upsert(persist[0], STATE_TABLE, persist[1])

    def _state_values(self, charger_id: str) -> dict[str, Any] | None:
        live = self._chargers.get(charger_id)
        if live is None:  # removed since: nothing to keep
            return None
        state = live.state
        return {name: getattr(state, name) for name in STATE_COLUMNS}

    async def connected(self, charger_id: str) -> None:
        if self.resume_on_connect:
            await self.resume_sessions(charger_id)
        live = self._chargers[charger_id]
        now = self._now()
        if live.state.connected_since is not None:
            live.state.reconnects += 1
        live.state.is_connected = True
        live.state.connected_since = now
        live.state.offline_since = None
        live.state.last_seen = now
        live.state.provisioning = "connected"
        live.state.status = self._aggregate(live)
        await self._persist_unanswered(live)
        self._publish(charger_id)

    async def disconnected(self, charger_id: str) -> None:
        live = self._chargers.get(charger_id)
        if live is None:
            return
        live.state.is_connected = False
        live.state.is_charging = False
        live.state.current_power_kw = 0.0
        live.power_w.clear()
        live.connectors = {
            number: replace(connector, current_a=None, soc_percent=None) for number, connector in live.connectors.items()
        }
        live.state.status = "offline"
        live.state.provisioning = "offline"
        live.state.offline_since = self._now()
        live.ping_rtt_ms = None
        await self._persist_unanswered(live)
        self._publish(charger_id)

    async def booted(self, charger_id: str, vendor: str, model: str, firmware: str | None) -> str:
        """A BootNotification; returns the registration status to answer.

        A charger that registered itself stays Pending until an operator
        accepts it, and one the operator rejected is told so at every boot.
        """
        live = self._chargers[charger_id]
        await self.sessions_at_boot(charger_id)
        live.state.last_boot_at = self._now()
        live.state.last_seen = live.state.last_boot_at
        live.state.firmware_version = firmware
        await self._boot_identity(live, vendor, model)
        registration = live.record.registration
        if registration == "pending":
            live.state.provisioning = "pending"
            answer = "Pending"
        elif registration == "rejected":
            live.state.provisioning = "rejected"
            live.state.last_failure = "boot rejected: an operator rejected this charger"
            answer = "Rejected"
        else:
            live.state.provisioning = "accepted"
            answer = "Accepted"
        await self._persist(live)
        self._publish(charger_id)
        return answer

    def reservations_changed(self, charger_id: str, held: list[tuple[datetime, int, str]]) -> None:
        if charger_id not in self._chargers:
            return
        self.reservations[charger_id] = held
        self._publish(charger_id)

    def charging_rate(self, charger_id: str) -> ChargingRate:
        """The unit the charger takes its charging limits in (watts until its configuration says otherwise)."""
        return self.charging_rates.get(charger_id, WATTS)

    async def _boot_identity(self, live: LiveCharger, vendor: str, model: str) -> None:
        """Record the vendor and model a boot reports where the charger's record has none (one that registered itself)."""
        fields = {
            name: value
            for name, value in (("vendor_name", vendor), ("model", model))
            if value and getattr(live.record, name) is None
        }
        if not fields:
            return
        charger_id = live.record.id

        def write(session: Session) -> None:
            session.execute(update(Charger).where(col(Charger.id) == charger_id).values(**fields))
            session.commit()

        await self.store.run(write)
        for name, value in fields.items():
            setattr(live.record, name, value)

    async def handshake_refused(self, charger_id: str, reason: str) -> None:
        """A known charger could not connect (wrong password, wrong subprotocol, …)."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        live.state.last_failure = reason
        await self._persist_unanswered(live)
        self._publish(charger_id)

    def link_quality(self, charger_id: str, ping_rtt_ms: float | None) -> None:
        live = self._chargers.get(charger_id)
        if live is not None and live.ping_rtt_ms != ping_rtt_ms:
            live.ping_rtt_ms = ping_rtt_ms
            self._publish_soon(charger_id)

    def heartbeat(self, charger_id: str) -> None:
        live = self._chargers[charger_id]
        self._touch(live)
        self._publish_soon(charger_id)

    async def connector_status(
        self, charger_id: str, connector_id: int, status: str, error_code: str | None
    ) -> None:
        live = self._chargers[charger_id]
        now = self._now()
        error = None if error_code in (None, "NoError") else error_code
        before = live.connectors.get(connector_id)
        live.connectors[connector_id] = ConnectorView(
            connector_id=connector_id,
            status=status,
            error_code=error,
            # Current flows while charging; the EV's state of charge is known until it leaves.
            current_a=before.current_a if before is not None and status == "Charging" else None,
            soc_percent=before.soc_percent if before is not None and status not in ("Available", "Unavailable", "Faulted") else None,
        )
        if status == "Faulted" and (before is None or before.status != "Faulted"):
            # Once as it goes Faulted, not at every repeat of the status.
            self.charger_event(charger_id, "StatusNotification", {"connectorId": connector_id, "status": status, "errorCode": error})
        live.state.status = self._aggregate(live)
        live.state.is_charging = any(c.status == "Charging" for c in live.connectors.values())
        if status != "Charging":
            live.power_w.pop(connector_id, None)
            live.state.current_power_kw = sum(live.power_w.values()) / 1000
        row = {"charger_id": charger_id, "connector_id": connector_id, "status": status, "error_code": error, "updated_at": now}
        # Live state, like a meter value: written with the next batch (what must be committed
        # before the charger is answered is a charger, an action, a transaction).
        self.writer.upsert(
            ("connector", f"{charger_id}\x00{connector_id}"),
            CONNECTOR_TABLE,
            lambda: row if charger_id in self._chargers else None,  # removed since: nothing to keep
            CONNECTOR_KEY,
        )
        self._touch(live)
        self._publish(charger_id)

    def _aggregate(self, live: LiveCharger) -> str:
        if not live.state.is_connected:
            return "offline"
        whole = live.connectors.get(0)
        if whole is not None and STATUS_WORDS.get(whole.status) in ("faulted", "unavailable"):
            return STATUS_WORDS[whole.status]
        words = {STATUS_WORDS.get(c.status, "unavailable") for n, c in live.connectors.items() if n > 0}
        for word in STATUS_PRIORITY:
            if word in words:
                return word
        return "available"

    # -- sessions ------------------------------------------------------------------

    async def transaction_started(
        self,
        charger_id: str,
        connector_id: int,
        id_tag: str,
        meter_start_wh: int,
        at: datetime,
        reference: str | None = None,
        seq_no: int | None = None,
        offline: bool = False,
        charger_at: datetime | None = None,
        incomplete: bool = False,
        start_known: bool = True,
    ) -> int:
        """Persist a new session before the charger is told its transaction id.

        `reference` is the charger's own id for it (2.0.1); a 1.6 session's
        reference is the id we hand out. A 1.6 start sent again because its
        answer was lost (same connector, idTag, meterStart and time) gets the
        same id back and opens nothing. A connector holds one open session at
        most: one still open there is closed as superseded, at this start, with
        its last reading (a stop the charger sends for it later still wins).
        `charger_at` is the charger's own time when its clock is off (`at` is then ours).
        """
        live = self._chargers[charger_id]
        previous = live.sessions.get(connector_id)
        refused = session_refusal(live.record.registration)
        transaction = Transaction(
            charger_id=charger_id,
            connector_id=connector_id,
            transaction_ref=reference,
            id_tag=id_tag,
            meter_start_wh=meter_start_wh,
            started_at=at,
            seq_no=seq_no,
            offline=offline,
            seq_nos=None if seq_no is None else str(seq_no),
            reconstructed=incomplete,
            incomplete=incomplete,
            start_known=start_known,
            clock_skewed=charger_at is not None,
            charger_started_at=charger_at,
            refused=refused,
        )

        def write(session: Session) -> tuple[int, list[int]]:
            if reference is None:
                sent_at = Transaction.charger_started_at if charger_at is not None else Transaction.started_at
                repeated = session.exec(
                    select(Transaction).where(
                        Transaction.charger_id == charger_id,
                        Transaction.connector_id == connector_id,
                        Transaction.id_tag == id_tag,
                        Transaction.meter_start_wh == meter_start_wh,
                        sent_at == (charger_at or at),
                    )
                ).first()
                if repeated is not None:
                    return repeated.id or 0, []
            superseded = []
            for stale in session.exec(
                select(Transaction).where(
                    Transaction.charger_id == charger_id,
                    Transaction.connector_id == connector_id,
                    Transaction.stopped_at.is_(None),  # type: ignore[union-attr]
                )
            ).all():
                meter = previous.meter if previous is not None and previous.transaction_id == stale.id else None
                _close_ourselves(session, stale, meter, max(at, as_utc(stale.started_at)), "Superseded", "superseded")
                superseded.append(stale.id or 0)
            session.add(transaction)
            session.flush()
            if transaction.transaction_ref is None:
                transaction.transaction_ref = str(transaction.id)
            session.commit()
            return transaction.id or 0, superseded

        transaction_id, superseded = await self.store.run(write)
        if transaction_id != transaction.id:
            return transaction_id  # the same start again: nothing new
        if refused:
            self.log(
                live.record.identity, "event", f"session {transaction_id} on connector {connector_id} not valid: {refused}",
                charger_id=charger_id,
            )
        if superseded:
            self.log(
                live.record.identity,
                "event",
                f"session {', '.join(map(str, superseded))} on connector {connector_id} closed as superseded: "
                "a new session started there before its stop arrived",
                charger_id=charger_id,
            )
        meter = Meter()
        if start_known or not incomplete:
            meter.read(float(meter_start_wh))
        live.sessions[connector_id] = Session_(
            transaction_id, meter_start_wh, reference=transaction.transaction_ref, meter=meter,
            seq_nos=set() if seq_no is None else {seq_no},
        )
        live.registers[connector_id] = float(meter_start_wh)
        self._touch(live)
        self._publish(charger_id)
        return transaction_id

    def connector_of_ref(self, charger_id: str, reference: str) -> int | None:
        live = self._chargers.get(charger_id)
        if live is not None:
            for connector_id, open_session in live.sessions.items():
                if open_session.reference == reference:
                    return connector_id
        return None

    def open_transaction(self, charger_id: str, connector_id: int) -> int | None:
        live = self._chargers.get(charger_id)
        open_session = live.sessions.get(connector_id) if live else None
        return open_session.transaction_id if open_session else None

    async def transaction_stopped(
        self,
        charger_id: str,
        transaction_id: int,
        meter_stop_wh: int,
        at: datetime,
        reason: str | None,
        samples: list[Sample] | None = None,
        charger_at: datetime | None = None,
        id_tag: str | None = None,
        signed: list[SignedSample] | None = None,
    ) -> bool:
        """A 1.6 StopTransaction, with its transactionData; True when it changed the record.

        The charger's id is looked up among this charger's sessions. One we
        closed ourselves (superseded, or at a reboot) takes the charger's own
        stop; one the charger had stopped already is a retransmission and
        changes nothing (its samples are not stored twice). An id we never
        saw is an offline session whose start was lost: it is recorded, flagged
        reconstructed, from its transactionData where it has some.
        """
        live = self._chargers[charger_id]
        reference = str(transaction_id)
        readings = register_readings(samples or [])
        open_session = next((s for s in live.sessions.values() if s.transaction_id == transaction_id), None)
        connectors = [number for number in live.connectors if number > 0]

        def write(session: Session) -> tuple[Transaction | None, bool]:
            transaction = _by_reference(session, charger_id, reference)
            if transaction is not None and transaction.stopped_at is not None and transaction.closed_by is None:
                return transaction, False  # stopped already: the same stop again
            if transaction is None:
                transaction = _reconstructed(session, charger_id, transaction_id, id_tag, connectors, readings, at)
                meter = Meter()
                for _, value in readings:
                    meter.read(value)
            elif open_session is not None and open_session.transaction_id == transaction.id:
                meter = open_session.meter
                for _, value in readings:
                    meter.read(value)
            else:  # closed by us meanwhile: its readings start over from its start
                meter = Meter()
                meter.read(float(transaction.meter_start_wh))
                for _, value in readings:
                    meter.read(value)
            meter.read(float(meter_stop_wh))
            transaction.meter_stop_wh = meter_stop_wh
            transaction.stopped_at = at
            transaction.charger_stopped_at = charger_at
            transaction.clock_skewed = transaction.clock_skewed or charger_at is not None
            transaction.stop_reason = reason
            transaction.closed_by = None
            transaction.energy_wh = meter.energy_wh
            transaction.meter_anomaly = meter.anomaly
            session.add(transaction)
            session.flush()
            if transaction.reconstructed:
                # MeterValues sent during the session named the charger's id: they are this session's.
                session.execute(
                    update(MeterSample)
                    .where(MeterSample.charger_id == charger_id, MeterSample.transaction_id == transaction_id)  # type: ignore[arg-type]
                    .values(transaction_id=transaction.id)
                )
            session.commit()
            return transaction, True

        transaction, changed = await self.store.run(write)
        if transaction is None:
            return False
        if changed and (samples or signed):
            self.meter_values(charger_id, transaction.connector_id, transaction.id, samples or [], live_view=False, signed=signed)
        if changed and transaction.reconstructed:
            self.log(
                live.record.identity,
                "event",
                f"StopTransaction for {transaction_id}, a session never started here: "
                f"recorded as session {transaction.id}, reconstructed",
                charger_id=charger_id,
            )
        self._session_closed(live, transaction.id or 0, float(meter_stop_wh))
        return changed

    def _session_closed(self, live: LiveCharger, transaction_id: int, last_wh: float | None) -> None:
        for connector_id, open_session in list(live.sessions.items()):
            if open_session.transaction_id == transaction_id:
                del live.sessions[connector_id]
                live.power_w.pop(connector_id, None)
                if last_wh is not None:
                    live.registers[connector_id] = last_wh
        live.state.current_power_kw = sum(live.power_w.values()) / 1000
        self._touch(live)
        self._publish(live.record.id)

    async def transaction_event(
        self,
        charger_id: str,
        *,
        event_type: str,
        reference: str,
        connector_id: int,
        id_tag: str | None,
        at: datetime,
        seq_no: int,
        offline: bool,
        status: str | None,
        stopped_reason: str | None,
        samples: list[Sample],
        begin_wh: float | None = None,
        charger_at: datetime | None = None,
        signed: list[SignedSample] | None = None,
    ) -> bool:
        """An OCPP 2.0.1 TransactionEvent, as the same sessions 1.6 chargers have; False for a duplicate.

        Events are told apart by transactionId and seqNo: one received before
        is answered the same and changes nothing. A transaction whose Started
        was missed is opened by the first event that names it, flagged
        incomplete, with the readings it brings (`begin_wh`: its
        Transaction.Begin register, when an event carries one).
        """
        live = self._chargers[charger_id]
        open_session = live.sessions.get(connector_id)
        if open_session is None or open_session.reference != reference:
            found = await self.store.run(lambda session: _by_reference(session, charger_id, reference))
            if found is not None:
                seen = parse_seq_ranges(found.seq_nos)
                if seq_no in seen:
                    return False
                if found.stopped_at is not None and found.closed_by is None:
                    # A late event of a session the station has ended: its readings are kept, nothing reopens.
                    self._note_sequence(found.id or 0, seq_no, offline, seen | {seq_no})
                    if samples or signed:
                        self.meter_values(charger_id, found.connector_id, found.id, samples, live_view=False, signed=signed)
                    return True
                # Closed by us (superseded, a reboot), or open on another connector: the station's word goes on.
                connector_id = found.connector_id
                open_session = await self._reopen(live, found, seen)
            else:
                started = event_type == "Started"
                readings = register_readings(samples)
                start = begin_wh
                if start is None and started:
                    start = readings[0][1] if readings else live.registers.get(connector_id, 0.0)
                known = start is not None
                if start is None and readings:
                    start = readings[0][1]
                await self.transaction_started(
                    charger_id, connector_id, id_tag or "", int(start or 0), at, reference=reference, seq_no=seq_no,
                    offline=offline, charger_at=charger_at, incomplete=not started, start_known=known,
                )
                open_session = live.sessions[connector_id]
                open_session.seq_nos.discard(seq_no)
                if not started:
                    self.log(
                        live.record.identity,
                        "event",
                        f"TransactionEvent {event_type} for {reference}, whose Started never arrived: recorded as incomplete",
                        charger_id=charger_id,
                    )
        elif seq_no in open_session.seq_nos:
            return False
        open_session.seq_nos.add(seq_no)
        if samples or signed:
            self.meter_values(charger_id, connector_id, open_session.transaction_id, samples, signed=signed)
        if status is not None and event_type != "Ended":
            await self.connector_status(charger_id, connector_id, status, None)
        if event_type == "Ended":
            await self._end_session(live, open_session, at, stopped_reason, charger_at)
            current = live.connectors.get(connector_id)
            if current is not None and current.status in ("Charging", "SuspendedEV", "SuspendedEVSE"):
                await self.connector_status(charger_id, connector_id, "Finishing", None)
        else:
            self._note_sequence(open_session.transaction_id, seq_no, offline, open_session.seq_nos)
        return True

    async def _end_session(
        self, live: LiveCharger, open_session: Session_, at: datetime, reason: str | None, charger_at: datetime | None
    ) -> None:
        """Close a 2.0.1 transaction with what its events reported."""
        meter = open_session.meter
        seen = set(open_session.seq_nos)
        gaps = seq_gaps(seen)
        transaction_id = open_session.transaction_id

        def write(session: Session) -> None:
            transaction = session.get(Transaction, transaction_id)
            if transaction is None:
                return
            transaction.stopped_at = at
            transaction.charger_stopped_at = charger_at
            transaction.clock_skewed = transaction.clock_skewed or charger_at is not None
            transaction.stop_reason = reason
            transaction.closed_by = None
            transaction.meter_stop_wh = None if meter.last_wh is None else int(meter.last_wh)
            transaction.energy_wh = meter.energy_wh
            transaction.meter_anomaly = meter.anomaly
            transaction.seq_nos = seq_ranges(seen)
            transaction.seq_no = max(seen)
            transaction.missing_seq_nos = ",".join(map(str, gaps)) or None
            transaction.incomplete = transaction.reconstructed or bool(gaps)
            session.add(transaction)
            session.commit()

        await self.store.run(write)
        self._session_closed(live, transaction_id, meter.last_wh)

    async def _reopen(self, live: LiveCharger, transaction: Transaction, seen: set[int]) -> Session_:
        """A session we had closed ourselves goes on: the station reports it still running."""
        transaction_id = transaction.id or 0

        def write(session: Session) -> Transaction | None:
            row = session.get(Transaction, transaction_id)
            if row is not None and row.closed_by is not None:
                row.stopped_at = row.stop_reason = row.closed_by = row.meter_stop_wh = row.energy_wh = None
                session.add(row)
                session.commit()
            return row

        await self.store.run(write)
        for connector_id, other in list(live.sessions.items()):
            if other.transaction_id == transaction_id:
                del live.sessions[connector_id]
        reopened = Session_(
            transaction_id, transaction.meter_start_wh, reference=transaction.transaction_ref,
            meter=_meter_of(transaction, live.registers.get(transaction.connector_id)), seq_nos=seen,
        )
        live.sessions[transaction.connector_id] = reopened
        if transaction.closed_by is not None:
            self.log(live.record.identity, "event", f"session {transaction_id} resumed by the charger", charger_id=live.record.id)
        return reopened

    def _note_sequence(self, transaction_id: int, seq_no: int, offline: bool, seen: set[int]) -> None:
        """Keep the seqNos received with the next batch (merged with what is stored: the batch may come
        after the transaction's end was written)."""
        seen = set(seen)

        def write(session: Session) -> None:
            transaction = session.get(Transaction, transaction_id)
            if transaction is not None:
                received = seen | parse_seq_ranges(transaction.seq_nos)
                gaps = seq_gaps(received)
                transaction.seq_no = max(transaction.seq_no or -1, seq_no)
                transaction.seq_nos = seq_ranges(received)
                transaction.missing_seq_nos = ",".join(map(str, gaps)) or None
                if transaction.stopped_at is not None:
                    transaction.incomplete = transaction.reconstructed or bool(gaps)
                transaction.offline = transaction.offline or offline
                session.add(transaction)
                session.commit()

        self.writer.call(write)

    async def sessions_at_boot(self, charger_id: str) -> None:
        """A charger booted afresh with sessions still open here: they ended with it.

        Each is closed with its last known reading, reason Reboot, marked as
        closed by us: a stop the charger sends for one later still wins, and a
        2.0.1 station that resumes one (an event naming it) reopens it.
        """
        live = self._chargers[charger_id]
        if not live.sessions:
            return
        open_sessions = dict(live.sessions)
        at = self._now()

        def write(session: Session) -> list[int]:
            closed = []
            for open_session in open_sessions.values():
                transaction = session.get(Transaction, open_session.transaction_id)
                if transaction is None or transaction.stopped_at is not None:
                    continue
                _close_ourselves(session, transaction, open_session.meter, max(at, as_utc(transaction.started_at)), "Reboot", "reboot")
                closed.append(transaction.id or 0)
            session.commit()
            return closed

        closed = await self.store.run(write)
        for connector_id, open_session in open_sessions.items():
            if live.sessions.get(connector_id) is open_session:
                del live.sessions[connector_id]
                live.power_w.pop(connector_id, None)
        if closed:
            self.log(
                live.record.identity,
                "event",
                f"booted with session {', '.join(map(str, closed))} still open: closed with its last reading (reason Reboot)",
                charger_id=charger_id,
            )
        live.state.current_power_kw = sum(live.power_w.values()) / 1000

    def charger_event(self, charger_id: str, kind: str, data: dict[str, Any]) -> None:
        """A notification worth keeping (security, firmware, reports); batched. One that matters is published as an alert."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        at = self._now()
        level = chargerevents.severity(kind, data)
        self.writer.add(ChargerEvent(charger_id=charger_id, at=at, kind=kind, data=data, severity=level))
        self._touch(live)
        for listener in self.event_listeners:
            listener(charger_id, kind, data)
        if level in chargerevents.ALERTING:
            text = chargerevents.describe(kind, data)
            view = ChargerEventView(None, charger_id, live.record.identity, at, kind, level, text, data)
            self.bus.publish(ChargerAlert(view))

    async def firmware_status(self, charger_id: str, status: str, request_id: int | None = None) -> None:
        live = self._chargers[charger_id]
        live.state.firmware_status = status
        data: dict[str, Any] = {"status": status}
        if request_id is not None:
            data["requestId"] = request_id
        self.charger_event(charger_id, "FirmwareStatus", data)
        await self._persist(live)
        self._publish(charger_id)
        for listener in self.firmware_listeners:
            listener(charger_id, status)

    def upload_status(self, charger_id: str, kind: str, status: str, request_id: int | None = None) -> None:
        """A DiagnosticsStatusNotification (kind DiagnosticsStatus) or LogStatusNotification (LogStatus)."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        data: dict[str, Any] = {"status": status}
        if kind == "LogStatus":
            data["requestId"] = request_id
        self.charger_event(charger_id, kind, data)
        live.upload_status = f"{'diagnostics' if kind == 'DiagnosticsStatus' else 'log'} {status}"
        self._publish(charger_id)

    def meter_values(
        self,
        charger_id: str,
        connector_id: int,
        transaction_id: int | None,
        samples: list[Sample],
        live_view: bool = True,
        signed: list[SignedSample] | None = None,
    ) -> None:
        """Meter samples: (time, measurand, phase, unit, value). Batched, not committed one by one.

        Connector 0 is the station's own meter: kept and shown apart, never
        added to its connectors. A meter that reports per phase only is read
        as the sum of its phases. `live_view` False: the samples of a session
        already closed (a stop's transactionData, a late event), stored only.
        `signed`: signed readings, kept verbatim beside the samples.
        """
        live = self._chargers[charger_id]
        add = self._sample_rows.add
        current: float | None = None
        soc: float | None = None
        power: float | None = None
        energy: list[float] | None = None
        by_phase = False
        for at, measurand, phase, unit, value in samples:
            add([charger_id, transaction_id, connector_id, at, measurand, phase, unit, value])
            if measurand == POWER:
                if phase is None:
                    power = value * 1000.0 if unit in KILO_UNITS else value
                else:
                    by_phase = True
            elif measurand == ENERGY:
                if phase is None:
                    reading = value * 1000.0 if unit in KILO_UNITS else value
                    if energy is None:
                        energy = [reading]
                    else:
                        energy.append(reading)
                else:
                    by_phase = True
            elif measurand == CURRENT and (phase is None or phase.startswith("L")):
                current = value if current is None else max(current, value)  # the busiest phase
            elif measurand == SOC:
                soc = value
        if signed:
            for at, measurand, phase, context, data, value in signed:
                self.writer.add(
                    SignedMeterValue(
                        charger_id=charger_id, transaction_id=transaction_id, connector_id=connector_id, at=at,
                        measurand=measurand, phase=phase, context=context, data=data, value=value,
                    )
                )
        if not live_view:
            return
        if by_phase:  # a meter that sends its phases, with or without a total
            energy = [value for _, value in register_readings(samples)] or None
            if power is None:
                power = power_of(samples)
        if connector_id == 0:
            if power is not None:
                live.station_power_w = power
            if energy:
                live.station_energy_wh = energy[-1]
        else:
            if power is not None:
                live.power_w[connector_id] = power
            if energy:
                live.registers[connector_id] = energy[-1]
                open_session = live.sessions.get(connector_id)
                if open_session is not None and (transaction_id is None or open_session.transaction_id == transaction_id):
                    read = open_session.meter.read
                    for reading in energy:
                        read(reading)
            connector = live.connectors.get(connector_id)
            if connector is not None and (current is not None or soc is not None):
                live.connectors[connector_id] = replace(
                    connector,
                    current_a=current if current is not None else connector.current_a,
                    soc_percent=soc if soc is not None else connector.soc_percent,
                )
            live.state.current_power_kw = sum(live.power_w.values()) / 1000
        self._touch(live)
        self._publish_soon(charger_id)

    def clock_offset(self, charger_id: str, offset_s: float | None) -> None:
        """The charger's clock is off by `offset_s` (beyond the allowed skew), or right again (None)."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        if offset_s is not None:
            offset_s = round(offset_s / 60) * 60.0  # minutes: a clock that is off stays off, and this changes rarely
        was = live.state.clock_offset_s
        if was == offset_s:
            return
        live.state.clock_offset_s = offset_s
        if offset_s is None:
            self.log(live.record.identity, "event", "the charger's clock is right again", charger_id=charger_id)
        elif was is None:
            self.log(
                live.record.identity,
                "event",
                f"the charger's clock is off by {clock_offset_words(offset_s)}: its times are kept, "
                "and ordered and shown by the time they were received",
                charger_id=charger_id,
            )
        self._touch(live)
        self._publish(charger_id)

    def session_energy_wh(self, charger_id: str, connector_id: int) -> float | None:
        """The energy so far of the session open on a connector."""
        live = self._chargers.get(charger_id)
        open_session = live.sessions.get(connector_id) if live else None
        return open_session.meter.forward_wh if open_session else None

    def transaction_reference(self, charger_id: str, connector_id: int) -> str | None:
        live = self._chargers.get(charger_id)
        open_session = live.sessions.get(connector_id) if live else None
        return open_session.reference if open_session else None

    def is_drawing(self, charger_id: str, connector_id: int) -> bool:
        """Power is flowing on the connector now (not suspended, not held at 0 W)."""
        live = self._chargers.get(charger_id)
        if live is None:
            return False
        connector = live.connectors.get(connector_id)
        return live.power_w.get(connector_id, 0.0) > 0 and connector is not None and connector.status == "Charging"

    def schedule_changed(self, charger_id: str, schedule: dict[str, Any] | None) -> None:
        live = self._chargers.get(charger_id)
        if live is not None and live.current_schedule != schedule:
            live.current_schedule = schedule
            self._publish(charger_id)

    def runtime_changed(self, charger_id: str, state: str, detail: str | None) -> None:
        live = self._chargers.get(charger_id)
        if live is None:
            return
        live.runtime, live.runtime_detail = state, detail
        self._publish(charger_id)

    def action_changed(self, charger_id: str, action: ActionSummary) -> None:
        live = self._chargers.get(charger_id)
        if live is None:
            return
        if live.last_action is None or live.last_action.id == action.id or action.created_at >= live.last_action.created_at:
            live.last_action = action
        self._publish(charger_id)

    # -- logs ----------------------------------------------------------------------

    def log(
        self,
        identity: str,
        direction: str,
        message: str,
        action: str | None = None,
        message_id: str | None = None,
        charger_id: str | None = None,
    ) -> LogView | None:
        """Record one frame or event; written with the next batch, published now.

        Returns what was published: None for a frame nobody subscribed to (the row is written all the same).
        """
        if charger_id is None:
            charger_id = self._by_identity.get(identity)
        entry_id = self.log_ids() if self.log_ids is not None else self._next_log_id
        self._next_log_id = entry_id + 1
        at = self._now()
        self._log_rows.add([entry_id, charger_id, identity, at, direction, action, message_id, message])
        if direction != "event" and not self.bus.wants_frames:
            return None
        view = LogView(entry_id, charger_id, identity, at, direction, action, message_id, message)
        self.bus.publish(LogAppended(view))
        return view

    def log_frame(
        self, identity: str, direction: str, raw: str | bytes, action: str | None = None
    ) -> LogView | None:
        """Log an OCPP-J frame; `action` names the CALL a result or error answers."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        found_action, message_id = frame_summary(text)
        return self.log(identity, direction, text, action=action or found_action, message_id=message_id)

    # -- protocol warnings ---------------------------------------------------------

    def protocol_warning(self, charger_id: str, text: str) -> None:
        """A way the charger broke OCPP that was let through: counted on it (the latest PROTOCOL_WARNINGS), logged, shown."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        now = self._now()
        seen = live.protocol_warnings.pop(text, None)
        if seen is None:
            live.protocol_warnings[text] = ProtocolWarning(text, 1, now, now)
            if len(live.protocol_warnings) > PROTOCOL_WARNINGS:
                del live.protocol_warnings[next(iter(live.protocol_warnings))]
        else:
            live.protocol_warnings[text] = replace(seen, count=seen.count + 1, last_at=now)
        self.log(live.record.identity, "event", f"protocol warning: {text}", charger_id=charger_id)
        self._publish_soon(charger_id)

    # -- power limits ----------------------------------------------------------------

    def limit_changed(self, charger_id: str, kw: float | None, source: str) -> None:
        """The charger accepted a limit from `source` ("command", "location cap"), or it was lifted (None)."""
        live = self._chargers.get(charger_id)
        if live is None or live.limits.get(source) == kw:
            return
        if kw is None:
            del live.limits[source]
        else:
            live.limits[source] = kw
        self._publish(charger_id)

    # -- a cluster: chargers another node holds (core.cluster) ----------------------

    def shared_state(self, charger_id: str) -> dict[str, Any] | None:
        """What the other nodes of a cluster show of a charger this node holds: its live figures, compact."""
        live = self._chargers.get(charger_id)
        if live is None:
            return None
        state = live.state
        return {
            "status": state.status,
            "connected": state.is_connected,
            "charging": state.is_charging,
            "kw": state.current_power_kw,
            "kwh": state.session_energy_kwh,
            "provisioning": state.provisioning,
            "seen": state.last_seen.isoformat() if state.last_seen is not None else None,
            "power": [[number, watts] for number, watts in live.power_w.items()],
            "connectors": [
                [c.connector_id, c.status, c.error_code, c.current_a, c.soc_percent] for c in live.connectors.values()
            ],
            "sessions": [[number, tx.transaction_id, tx.meter_start_wh, tx.reference] for number, tx in live.sessions.items()],
            "limits": live.limits,
        }

    def apply_shared_state(self, charger_id: str, shared: dict[str, Any] | None) -> None:
        """A charger another node holds, as that node says it is now; None: no node holds it (offline).

        Shown and published, not written: the node holding the charger writes its state."""
        live = self._chargers.get(charger_id)
        if live is None:
            return
        state = live.state
        if shared is None:
            if not state.is_connected:
                return
            state.is_connected = state.is_charging = False
            state.current_power_kw = 0.0
            state.status = state.provisioning = "offline"
            state.offline_since = self._now()
            live.power_w.clear()
        else:
            state.status = shared["status"]
            state.is_connected = shared["connected"]
            state.is_charging = shared["charging"]
            state.current_power_kw = shared["kw"]
            state.session_energy_kwh = shared["kwh"]
            state.provisioning = shared["provisioning"]
            state.last_seen = datetime.fromisoformat(shared["seen"]) if shared["seen"] else None
            live.power_w = {int(number): float(watts) for number, watts in shared["power"]}
            live.connectors = {
                number: ConnectorView(connector_id=number, status=status, error_code=error, current_a=current, soc_percent=soc)
                for number, status, error, current, soc in shared["connectors"]
            }
            before = live.sessions
            live.sessions = {
                number: before[number]
                if number in before and before[number].transaction_id == transaction_id
                else Session_(transaction_id, meter_start_wh, reference=reference)
                for number, transaction_id, meter_start_wh, reference in shared["sessions"]
            }
            live.limits = dict(shared["limits"])
        self._publish_soon(charger_id)

    async def resume_sessions(self, charger_id: str) -> None:
        """Read the charger's open sessions from the store again: on a cluster, another node may have held it
        since this one last did (it died, or the charger moved), and its sessions go on here."""

        def read(session: Session) -> None:
            live = self._chargers.get(charger_id)
            if live is not None:
                live.sessions = {}
                self._load_sessions(session, charger_id)
                session.commit()

        await self.store.run(read)


def _total_current(connectors: Any) -> float | None:
    currents = [connector.current_a for connector in connectors if connector.current_a is not None]
    return round(sum(currents), 1) if currents else None


def _by_reference(session: Session, charger_id: str, reference: str) -> Transaction | None:
    """A charger's session by its own id for it: the open one first, else the newest."""
    return session.exec(
        select(Transaction)
        .where(Transaction.charger_id == charger_id, Transaction.transaction_ref == reference)
        .order_by(Transaction.stopped_at.is_not(None), col(Transaction.id).desc())  # type: ignore[union-attr]
    ).first()


def _last_register(session: Session, transaction: Transaction) -> float | None:
    """The last energy register reading stored for a session (Wh)."""
    row = session.exec(
        select(MeterSample.value, MeterSample.unit)
        .where(
            MeterSample.charger_id == transaction.charger_id,
            MeterSample.at >= transaction.started_at,
            MeterSample.transaction_id == transaction.id,
            MeterSample.measurand == ENERGY,
            MeterSample.phase.is_(None),  # type: ignore[union-attr]
        )
        .order_by(col(MeterSample.at).desc())
        .limit(1)
    ).first()
    return None if row is None else in_base_unit(row[0], row[1])


def _meter_of(transaction: Transaction, last_wh: float | None) -> Meter:
    """A session's meter picked up again from its start and its last reading."""
    meter = Meter()
    if transaction.start_known:
        meter.read(float(transaction.meter_start_wh))
    if last_wh is not None:
        meter.read(last_wh)
    return meter


def _close_ourselves(
    session: Session, transaction: Transaction, meter: Meter | None, at: datetime, reason: str, closed_by: str
) -> None:
    """Close a session the charger did not stop (yet): with its last reading, saying who closed it and why."""
    if meter is None:
        meter = _meter_of(transaction, _last_register(session, transaction))
    transaction.stopped_at = at
    transaction.stop_reason = reason
    transaction.closed_by = closed_by
    transaction.meter_stop_wh = None if meter.last_wh is None else int(meter.last_wh)
    transaction.energy_wh = meter.energy_wh
    transaction.meter_anomaly = meter.anomaly
    session.add(transaction)


def _reconstructed(
    session: Session,
    charger_id: str,
    transaction_id: int,
    id_tag: str | None,
    connectors: list[int],
    readings: list[tuple[datetime, float]],
    at: datetime,
) -> Transaction:
    """A session known only from its StopTransaction: it starts at the first sample of its transactionData, if any.

    Its connector is the one its MeterValues named, else the charger's only one, else 0 (unknown).
    """
    connector = session.exec(
        select(MeterSample.connector_id)
        .where(MeterSample.charger_id == charger_id, MeterSample.transaction_id == transaction_id)
        .limit(1)
    ).first()
    if connector is None:
        connector = connectors[0] if len(connectors) == 1 else 0
    started_at, start_wh = readings[0] if readings else (at, None)
    return Transaction(
        charger_id=charger_id,
        transaction_ref=str(transaction_id),
        connector_id=connector,
        id_tag=id_tag or "",
        meter_start_wh=int(start_wh or 0),
        started_at=started_at,
        reconstructed=True,
        start_known=start_wh is not None,
    )


def frame_summary(text: str) -> tuple[str | None, str | None]:
    """(action, message id) of an OCPP-J frame; results borrow their CALL's action."""
    try:
        frame = json.loads(text)
    except ValueError:
        return None, None
    if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[1], str):
        return None, None
    message_type, message_id = frame[0], frame[1]
    if message_type == 2 and len(frame) >= 4 and isinstance(frame[2], str):
        return frame[2], message_id
    return None, message_id


def summarize_action(action: Action) -> ActionSummary:
    return ActionSummary(
        id=action.id,
        command=action.command,
        state=action.state,
        created_at=action.created_at,
        updated_at=action.updated_at,
        detail=action.detail,
        duration_ms=action.duration_ms,
    )


def log_view(entry: LogEntry) -> LogView:
    return LogView(
        id=entry.id or 0,
        charger_id=entry.charger_id,
        identity=entry.identity,
        at=entry.at,
        direction=entry.direction,
        action=entry.action,
        message_id=entry.message_id,
        message=entry.message,
    )


# On a tie the source named first is the one that holds the charger there.
LIMIT_SOURCES = ("command", "charger maximum", "location cap")


def limit_in_force(max_power_w: float, limits: dict[str, float]) -> tuple[float, str]:
    """(kW, source) of the tightest limit: the charger's maximum or one it accepted."""
    candidates = {**limits, "charger maximum": max_power_w / 1000}
    source = min(candidates, key=lambda name: (candidates[name], LIMIT_SOURCES.index(name)))
    return round(candidates[source], 3), source
