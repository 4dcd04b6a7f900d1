"""One simulated OCPP 1.6J charge point: boot, heartbeat, connectors, EV sessions.

The charger outlives its connections: energy registers, configuration,
availability and sessions cut off by a lost connection (whose StopTransaction
is sent after the next boot) carry over from one connection to the next.
All simulated time passes through the injected clock and all chance through
the injected `random.Random`, so a seed and a `ManualClock` replay exactly.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import KeyValue
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    Measurand,
    MessageTrigger,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
)
from websockets.exceptions import ConnectionClosed

from console.core.clock import Clock
from console.core.models import Charger
from console.core.views import iso
from console.sim.ev import EV, VOLTAGE, phase_current

SUBPROTOCOL = "ocpp1.6"
FIRMWARE_VERSION = "sim-0.1.0"

DEFAULT_MEASURANDS = (
    Measurand.energy_active_import_register,
    Measurand.power_active_import,
    Measurand.current_import,
    Measurand.voltage,
    Measurand.soc,
)
INTEGER_KEYS = ("HeartbeatInterval", "MeterValueSampleInterval")
BOOLEAN_KEYS = ("AuthorizeRemoteTxRequests",)
READ_ONLY_KEYS = ("NumberOfConnectors",)

# How the automatic driver behaves (seconds of simulated time).
FIRST_ARRIVAL = (5.0, 60.0)
SESSION_LENGTH = (180.0, 900.0)
IDLE_GAP = (60.0, 600.0)
UNPLUG_DELAY = (3.0, 15.0)
# How long a boot that was not accepted waits when the answer gives no interval.
BOOT_RETRY = 30
RESET_REASONS = {"Soft": Reason.soft_reset, "Hard": Reason.hard_reset}


class ConnectionLost(Exception):
    """The connection ended without the charger asking for it."""


class CsmsTimeout(Exception):
    """The central system did not answer a CALL in time."""


@dataclass
class ChargingSession:
    ev: EV
    id_tag: str
    planned_end: datetime | None
    authorize: bool = True
    transaction_id: int | None = None
    power_w: float = 0.0
    stop_reason: str | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once the transaction is closed (or never opened).
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_requested.set()


@dataclass
class ConnectorSim:
    """One connector; number 0 stands for the whole charger (availability only)."""

    connector_id: int
    energy_wh: float
    rng: random.Random
    status: str = ChargePointStatus.available
    operative: bool = True
    session: ChargingSession | None = None

    @property
    def free(self) -> bool:
        return self.operative and self.session is None


@dataclass
class UnsentStop:
    """A transaction cut off by a lost connection, to close after the next boot."""

    transaction_id: int
    meter_stop: int
    timestamp: str
    id_tag: str
    reason: str


class SimulatedCharger:
    def __init__(
        self,
        record: Charger,
        clock: Clock,
        rng: random.Random,
        *,
        auto_sessions: bool = True,
        response_timeout: float = 30.0,
    ) -> None:
        self.record = record
        self.clock = clock
        self.rng = rng
        self.auto_sessions = auto_sessions
        self.response_timeout = response_timeout
        self.config: dict[str, str] = {
            "HeartbeatInterval": "60",
            "MeterValueSampleInterval": "10",
            "MeterValuesSampledData": ",".join(DEFAULT_MEASURANDS),
            "AuthorizeRemoteTxRequests": "false",
        }
        self.connectors: dict[int, ConnectorSim] = {}
        self._message_ids = random.Random(rng.random())
        self._unsent_stops: list[UnsentStop] = []
        self._ensure_connectors()
        # One connection's worth of state, reset by `serve`.
        self._link: _Link16 | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ended = asyncio.Event()
        self._failure: BaseException | None = None
        self._closed: ConnectionClosed | None = None
        self._reset_type: str | None = None
        self._pending_starts: dict[str, ConnectorSim] = {}
        self.in_flight = 0

    @property
    def identity(self) -> str:
        return self.record.identity

    @property
    def outlets(self) -> list[ConnectorSim]:
        return [self.connectors[n] for n in sorted(self.connectors) if n > 0]

    @property
    def idle(self) -> bool:
        """No CALL of ours awaits an answer (tests use this to let the network settle)."""
        return self.in_flight == 0

    def update_record(self, record: Charger) -> None:
        """Take an edited charger record; applies from the next connection."""
        self.record = record
        self._ensure_connectors()

    def _ensure_connectors(self) -> None:
        wanted = max(1, self.record.number_of_connectors)
        for number in range(wanted + 1):
            if number not in self.connectors:
                # A register that has seen some use, so meter readings look like a real meter's.
                self.connectors[number] = ConnectorSim(
                    number, round(self.rng.uniform(100_000, 5_000_000)), random.Random(self.rng.random())
                )
        for number in [n for n in self.connectors if n > wanted]:
            del self.connectors[number]
        self.config["NumberOfConnectors"] = str(wanted)

    def _config_int(self, key: str) -> int:
        try:
            return max(1, int(self.config[key]))
        except ValueError:
            return 1

    def _now(self) -> str:
        return iso(self.clock.now()) or ""

    # -- one connection ------------------------------------------------------------------

    async def serve(self, connection: Any, on_online: Callable[[], None]) -> str:
        """Run the charge point over an open WebSocket until it ends.

        Returns why it ended when the charger itself asked to (a Reset): the
        caller reconnects at once. Raises when the connection was lost or the
        central system misbehaved.
        """
        link = _Link16(self, connection)
        self._link = link
        self._ended = asyncio.Event()
        self._failure = self._closed = None
        self._reset_type = None
        self._pending_starts.clear()
        self._spawn(self._read(link))
        self._spawn(self._lifecycle(on_online))
        try:
            await self._ended.wait()
            reset, failure, closed = self._reset_type, self._failure, self._closed
        finally:
            await self._shutdown()
        if reset is not None:
            return f"{reset} reset"
        if failure is not None:
            raise failure
        raise ConnectionLost(describe_close(closed))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if isinstance(error, ConnectionClosed):
            self._closed = self._closed or error
        elif self._failure is None:
            self._failure = error
        self._ended.set()

    async def _read(self, link: _Link16) -> None:
        try:
            await link.start()
        except ConnectionClosed as closed:
            self._closed = closed
        self._ended.set()

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._link = None
        self.in_flight = 0
        at = self._now()
        for connector in self.outlets:
            session = connector.session
            if session is not None and session.transaction_id is not None:
                self._unsent_stops.append(
                    UnsentStop(
                        session.transaction_id, int(connector.energy_wh), at, session.id_tag, Reason.power_loss
                    )
                )
            if session is not None:
                session.done.set()
            connector.session = None

    async def _call(self, payload: Any) -> Any:
        """Send one CALL; the answer, or None when the central system answered with a CALLERROR."""
        if self._link is None:
            raise ConnectionLost("not connected")
        self.in_flight += 1
        try:
            return await self._link.call(payload)
        except asyncio.TimeoutError as error:
            raise CsmsTimeout(f"no answer to {type(payload).__name__} within {self.response_timeout:g} s") from error
        finally:
            self.in_flight -= 1

    # -- boot and heartbeat ----------------------------------------------------------------

    async def _lifecycle(self, on_online: Callable[[], None]) -> None:
        await self._boot()
        while self._unsent_stops:
            stop = self._unsent_stops[0]
            await self._call(
                call.StopTransaction(
                    meter_stop=stop.meter_stop,
                    timestamp=stop.timestamp,
                    transaction_id=stop.transaction_id,
                    reason=stop.reason,
                    id_tag=stop.id_tag,
                )
            )
            self._unsent_stops.pop(0)
        for connector in self.connectors.values():
            status = ChargePointStatus.available if connector.operative else ChargePointStatus.unavailable
            await self._status(connector, status)
        on_online()
        if self.auto_sessions:
            for connector in self.outlets:
                self._spawn(self._arrivals(connector))
        while True:
            await self.clock.sleep(self._config_int("HeartbeatInterval"))
            await self._call(call.Heartbeat())

    async def _boot(self) -> None:
        while True:
            answer = await self._send_boot()
            if answer is not None and answer.status == RegistrationStatus.accepted:
                return
            wait = answer.interval if answer is not None and answer.interval > 0 else BOOT_RETRY
            await self.clock.sleep(wait)

    async def _send_boot(self) -> call_result.BootNotification | None:
        # OCPP 1.6 caps vendor and model at 20 characters.
        answer = await self._call(
            call.BootNotification(
                charge_point_vendor=(self.record.vendor_name or "Simulated")[:20],
                charge_point_model=(self.record.model or "Simulated charger")[:20],
                charge_point_serial_number=self.identity[:25],
                firmware_version=FIRMWARE_VERSION,
            )
        )
        if answer is not None and answer.status == RegistrationStatus.accepted and answer.interval > 0:
            self.config["HeartbeatInterval"] = str(answer.interval)
        return answer

    async def _status(self, connector: ConnectorSim, status: str) -> None:
        connector.status = status
        await self._call(
            call.StatusNotification(
                connector_id=connector.connector_id,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=self._now(),
            )
        )

    # -- EV sessions -------------------------------------------------------------------------

    def _new_session(self, connector: ConnectorSim, id_tag: str, authorize: bool) -> ChargingSession:
        rng = connector.rng
        ev = EV.arriving(rng)
        length = rng.uniform(*SESSION_LENGTH)
        session = ChargingSession(
            ev=ev,
            id_tag=id_tag,
            planned_end=self.clock.now() + timedelta(seconds=length),
            authorize=authorize,
        )
        connector.session = session
        return session

    async def _arrivals(self, connector: ConnectorSim) -> None:
        """The automatic driver: EVs come and go on this connector."""
        rng = connector.rng
        await self.clock.sleep(rng.uniform(*FIRST_ARRIVAL))
        while True:
            if connector.free:
                id_tag = f"{rng.getrandbits(32):08X}"
                session = self._new_session(connector, id_tag, authorize=True)
                await self._run_session(connector, session)
            await self.clock.sleep(rng.uniform(*IDLE_GAP))

    async def _run_session(self, connector: ConnectorSim, session: ChargingSession) -> None:
        try:
            await self._status(connector, ChargePointStatus.preparing)
            if session.authorize:
                answer = await self._call(call.Authorize(id_tag=session.id_tag))
                if answer is None or answer.id_tag_info.get("status") != "Accepted":
                    session.request_stop(Reason.de_authorized)
            if session.stop_reason is not None:
                await self._unplug(connector)
                return
            answer = await self._call(
                call.StartTransaction(
                    connector_id=connector.connector_id,
                    id_tag=session.id_tag,
                    meter_start=int(connector.energy_wh),
                    timestamp=self._now(),
                )
            )
            if answer is None:
                await self._unplug(connector)
                return
            session.transaction_id = answer.transaction_id
            if answer.id_tag_info.get("status") != "Accepted":
                session.request_stop(Reason.de_authorized)
            else:
                await self._status(connector, ChargePointStatus.charging)
                await self._charge(connector, session)
            await self._finish(connector, session)
        finally:
            session.done.set()

    async def _charge(self, connector: ConnectorSim, session: ChargingSession) -> None:
        """Charge until the car is full, the driver leaves, or someone stops the session."""
        last = self.clock.now()
        power = session.ev.power_w(self._available_power(connector))
        session.power_w = power
        await self._meter_values(connector, "Transaction.Begin")
        while True:
            interval = self._config_int("MeterValueSampleInterval")
            wait = float(interval)
            if session.planned_end is not None:
                wait = min(wait, max(0.0, (session.planned_end - last).total_seconds()))
            stopped = await self._sleep_unless_stopped(session, wait)
            now = self.clock.now()
            elapsed, last = (now - last).total_seconds(), now
            connector.energy_wh += session.ev.charge(power, elapsed)
            session.power_w = power
            if stopped:
                return
            if session.ev.full:
                session.request_stop(Reason.ev_disconnected)
                return
            if session.planned_end is not None and now >= session.planned_end:
                session.request_stop(Reason.local)
                return
            power = session.ev.power_w(self._available_power(connector))
            session.power_w = power
            await self._meter_values(connector, "Sample.Periodic")

    def _available_power(self, connector: ConnectorSim) -> float:
        """The charger's max power less what its other connectors draw: they share one supply."""
        others = sum(
            other.session.power_w
            for other in self.connectors.values()
            if other is not connector and other.session is not None
        )
        return max(0.0, float(self.record.max_charging_power) - others)

    async def _sleep_unless_stopped(self, session: ChargingSession, seconds: float) -> bool:
        if session.stop_requested.is_set():
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(session.stop_requested.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
        return session.stop_requested.is_set()

    async def _finish(self, connector: ConnectorSim, session: ChargingSession) -> None:
        reason = session.stop_reason or Reason.local
        await self._call(
            call.StopTransaction(
                meter_stop=int(connector.energy_wh),
                timestamp=self._now(),
                transaction_id=session.transaction_id,
                reason=reason,
                id_tag=session.id_tag,
            )
        )
        session.transaction_id = None
        session.power_w = 0.0
        # The transaction is closed: a Reset need not wait for the driver to unplug.
        session.done.set()
        if reason in RESET_REASONS.values():
            # The reboot announces every connector anew.
            connector.session = None
            return
        await self._status(connector, ChargePointStatus.finishing)
        await self.clock.sleep(connector.rng.uniform(*UNPLUG_DELAY))
        await self._unplug(connector)

    async def _unplug(self, connector: ConnectorSim) -> None:
        connector.session = None
        status = ChargePointStatus.available if connector.operative else ChargePointStatus.unavailable
        await self._status(connector, status)

    async def _meter_values(self, connector: ConnectorSim, context: str) -> None:
        session = connector.session
        charging = session is not None and session.transaction_id is not None
        power = session.power_w if charging and session else 0.0
        wanted = set(self.config["MeterValuesSampledData"].split(","))
        sampled: list[dict[str, str]] = []

        def add(measurand: str, value: float, unit: str, phase: str | None = None, location: str = "Outlet") -> None:
            if measurand not in wanted:
                return
            entry = {"value": f"{value:.1f}", "context": context, "measurand": measurand, "unit": unit}
            if phase is not None:
                entry["phase"] = phase
            sampled.append({**entry, "location": location})

        add(Measurand.energy_active_import_register, connector.energy_wh, "Wh")
        add(Measurand.power_active_import, power, "W")
        for phase in ("L1", "L2", "L3"):
            add(Measurand.current_import, phase_current(power), "A", phase)
        add(Measurand.voltage, VOLTAGE, "V")
        if session is not None and charging:
            add(Measurand.soc, session.ev.soc, "Percent", location="EV")
        if not sampled:
            return
        await self._call(
            call.MeterValues(
                connector_id=connector.connector_id,
                meter_value=[{"timestamp": self._now(), "sampledValue": sampled}],
                transaction_id=session.transaction_id if charging and session else None,
            )
        )

    # -- what the central system asks --------------------------------------------------------

    def remote_start(self, id_tag: str, connector_id: int | None, message_id: str) -> str:
        if connector_id is None:
            connector = next((c for c in self.outlets if c.free), None)
        else:
            connector = self.connectors.get(connector_id) if connector_id > 0 else None
        if connector is None or not connector.free:
            return RemoteStartStopStatus.rejected
        authorize = self.config["AuthorizeRemoteTxRequests"] == "true"
        self._new_session(connector, id_tag, authorize=authorize)
        self._pending_starts[message_id] = connector
        return RemoteStartStopStatus.accepted

    def after_remote_start(self, message_id: str) -> None:
        connector = self._pending_starts.pop(message_id, None)
        if connector is not None and connector.session is not None:
            self._spawn(self._run_session(connector, connector.session))

    def _session_of(self, transaction_id: int) -> ChargingSession | None:
        for connector in self.outlets:
            if connector.session is not None and connector.session.transaction_id == transaction_id:
                return connector.session
        return None

    def remote_stop(self, transaction_id: int) -> str:
        if self._session_of(transaction_id) is None:
            return RemoteStartStopStatus.rejected
        return RemoteStartStopStatus.accepted

    def after_remote_stop(self, transaction_id: int) -> None:
        session = self._session_of(transaction_id)
        if session is not None:
            session.request_stop(Reason.remote)

    def after_reset(self, reset_type: str) -> None:
        self._spawn(self._reset(reset_type))

    async def _reset(self, reset_type: str) -> None:
        sessions = [c.session for c in self.outlets if c.session is not None]
        for session in sessions:
            session.request_stop(RESET_REASONS.get(reset_type, Reason.reboot))
        await asyncio.gather(*(session.done.wait() for session in sessions))
        self._reset_type = reset_type
        self._ended.set()

    def change_availability(self, connector_id: int, kind: str) -> str:
        if connector_id not in self.connectors:
            return AvailabilityStatus.rejected
        operative = kind == AvailabilityType.operative
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        for connector in targets:
            connector.operative = operative
        if not operative and any(c.session is not None for c in targets if c.connector_id > 0):
            return AvailabilityStatus.scheduled
        return AvailabilityStatus.accepted

    def after_change_availability(self, connector_id: int) -> None:
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors.get(connector_id)]
        self._spawn(self._announce_availability([c for c in targets if c is not None]))

    async def _announce_availability(self, targets: list[ConnectorSim]) -> None:
        for connector in targets:
            if connector.session is None:
                wanted = ChargePointStatus.available if connector.operative else ChargePointStatus.unavailable
                if connector.status != wanted:
                    await self._status(connector, wanted)

    def unlock(self, connector_id: int) -> str:
        if connector_id < 1 or connector_id not in self.connectors:
            return UnlockStatus.not_supported
        session = self.connectors[connector_id].session
        if session is not None and session.transaction_id is not None:
            session.request_stop(Reason.unlock_command)
        return UnlockStatus.unlocked

    def get_configuration(self, keys: list[str] | None) -> tuple[list[KeyValue], list[str]]:
        wanted = keys or list(self.config)
        known = [
            KeyValue(key=key, readonly=key in READ_ONLY_KEYS, value=self.config[key])
            for key in wanted
            if key in self.config
        ]
        unknown = [k for k in wanted if k not in self.config]
        return known, unknown

    def change_configuration(self, key: str, value: str) -> str:
        if key not in self.config:
            return ConfigurationStatus.not_supported
        if key in READ_ONLY_KEYS:
            return ConfigurationStatus.rejected
        if key in INTEGER_KEYS:
            if not value.strip().isdigit() or int(value) < 1:
                return ConfigurationStatus.rejected
            value = str(int(value))
        elif key in BOOLEAN_KEYS:
            if value.lower() not in ("true", "false"):
                return ConfigurationStatus.rejected
            value = value.lower()
        elif key == "MeterValuesSampledData":
            measurands = [m.strip() for m in value.split(",") if m.strip()]
            if not measurands or any(m not in set(Measurand) for m in measurands):
                return ConfigurationStatus.rejected
            value = ",".join(measurands)
        self.config[key] = value
        return ConfigurationStatus.accepted

    def trigger(self, requested: str, connector_id: int | None) -> str:
        if connector_id is not None and connector_id not in self.connectors:
            return TriggerMessageStatus.rejected
        if requested not in (
            MessageTrigger.boot_notification,
            MessageTrigger.heartbeat,
            MessageTrigger.status_notification,
            MessageTrigger.meter_values,
        ):
            return TriggerMessageStatus.not_implemented
        return TriggerMessageStatus.accepted

    def after_trigger(self, requested: str, connector_id: int | None) -> None:
        self._spawn(self._triggered(requested, connector_id))

    async def _triggered(self, requested: str, connector_id: int | None) -> None:
        if requested == MessageTrigger.boot_notification:
            await self._send_boot()
        elif requested == MessageTrigger.heartbeat:
            await self._call(call.Heartbeat())
        elif requested == MessageTrigger.status_notification:
            targets = self.connectors.values() if connector_id is None else [self.connectors[connector_id]]
            for connector in list(targets):
                await self._status(connector, connector.status)
        elif requested == MessageTrigger.meter_values:
            targets = self.outlets if not connector_id else [self.connectors[connector_id]]
            for connector in targets:
                await self._meter_values(connector, "Trigger")


def describe_close(closed: ConnectionClosed | None) -> str:
    if closed is None or closed.rcvd is None:
        return "the connection dropped without a close frame"
    reason = f" '{closed.rcvd.reason}'" if closed.rcvd.reason else ""
    return f"closed by the central system (code {closed.rcvd.code}{reason})"


class _Link16(ChargePoint):
    """The OCPP 1.6J wire side of a simulated charger: one handler per CALL, decisions in the charger."""

    def __init__(self, charger: SimulatedCharger, connection: Any) -> None:
        super().__init__(charger.identity, connection, response_timeout=charger.response_timeout)
        self.charger = charger
        ids = charger._message_ids
        self._unique_id_generator = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, call_unique_id: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(
            status=self.charger.remote_start(id_tag, connector_id, call_unique_id)
        )

    @after(Action.remote_start_transaction)
    def after_remote_start(self, call_unique_id: str, **_: Any) -> None:
        self.charger.after_remote_start(call_unique_id)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        return call_result.RemoteStopTransaction(status=self.charger.remote_stop(transaction_id))

    @after(Action.remote_stop_transaction)
    def after_remote_stop(self, transaction_id: int) -> None:
        self.charger.after_remote_stop(transaction_id)

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self.charger.after_reset(type)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> call_result.ChangeAvailability:
        return call_result.ChangeAvailability(status=self.charger.change_availability(connector_id, type))

    @after(Action.change_availability)
    def after_change_availability(self, connector_id: int, type: str) -> None:
        self.charger.after_change_availability(connector_id)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        return call_result.UnlockConnector(status=self.charger.unlock(connector_id))

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        known, unknown = self.charger.get_configuration(key)
        return call_result.GetConfiguration(configuration_key=known or None, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status=self.charger.change_configuration(key, value))

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status=self.charger.trigger(requested_message, connector_id))

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None) -> None:
        if self.charger.trigger(requested_message, connector_id) == TriggerMessageStatus.accepted:
            self.charger.after_trigger(requested_message, connector_id)

    @on(Action.clear_cache)
    def on_clear_cache(self) -> call_result.ClearCache:
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)
