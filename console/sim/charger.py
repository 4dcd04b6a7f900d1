"""A simulated charge point, version-neutral: connectors, EV sessions, energy, profiles.

The charger outlives its connections: energy registers, configuration,
availability, profiles and sessions cut off by a lost connection (whose end
is reported after the next boot) carry over from one connection to the next.
Switched off while online (`power_off`), it ends its transactions as a
charger losing power does, and the central system hears of them before the
socket closes.
What goes on the wire is left to one thin adapter per OCPP version
(`console.sim.v16`, `console.sim.v201`), which implements the `_send_*` hooks
and answers the central system's CALLs by asking this class.

Statuses are kept in OCPP 1.6 words (Available, Preparing, Charging,
SuspendedEV, SuspendedEVSE, Finishing, Reserved, Unavailable, Faulted); the
2.0.1 adapter maps them onto connector statuses and charging states. All
simulated time passes through the injected clock and all chance through the
injected `random.Random`, so a seed and a `ManualClock` replay exactly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from console.core.clock import Clock
from console.core.ports import ChargerRecord
from console.core.views import iso
from console.sim.ev import EV, VOLTAGE, phase_current
from console.sim.profiles import TX, ChargingProfile, ProfileRejected, ProfileStore
from console.sim.security import SimCertificates

FIRMWARE_VERSION = "sim-0.2.0"
# A firmware image's first line may name its version ("ocpp-console-firmware 1.2.3"); else its file name does.
FIRMWARE_HEADER = b"ocpp-console-firmware "
# Why a charger rebooted itself to install firmware (the reset type `serve` returns).
FIRMWARE_REBOOT = "Firmware"
# How long a boot that was not accepted waits when the answer gives no interval.
BOOT_RETRY = 30

AVAILABLE = "Available"
PREPARING = "Preparing"
CHARGING = "Charging"
SUSPENDED_EV = "SuspendedEV"
SUSPENDED_EVSE = "SuspendedEVSE"
FINISHING = "Finishing"
RESERVED = "Reserved"
UNAVAILABLE = "Unavailable"
FAULTED = "Faulted"

# Why a session ends, in 1.6 words; the 2.0.1 adapter translates.
LOCAL, REMOTE, EV_DISCONNECTED, DE_AUTHORIZED = "Local", "Remote", "EVDisconnected", "DeAuthorized"
POWER_LOSS, UNLOCK, OTHER, REBOOT = "PowerLoss", "UnlockCommand", "Other", "Reboot"
SOFT_RESET, HARD_RESET = "SoftReset", "HardReset"

# Measurands in both versions' words.
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE_M = "Voltage"
SOC = "SoC"
DEFAULT_MEASURANDS = (ENERGY, POWER, CURRENT, VOLTAGE_M, SOC)


@dataclass(frozen=True)
class SessionPlan:
    """How the automatic session generator behaves; seconds are simulated time."""

    first_arrival: tuple[float, float] = (5.0, 60.0)
    session_length: tuple[float, float] = (180.0, 900.0)
    idle_gap: tuple[float, float] = (60.0, 600.0)
    unplug_delay: tuple[float, float] = (3.0, 15.0)
    battery_kwh: tuple[float, float] = (40.0, 100.0)
    soc: tuple[float, float] = (10.0, 60.0)


class ConnectionLost(Exception):
    """The connection ended without the charger asking for it."""


class CsmsTimeout(Exception):
    """The central system did not answer a CALL in time."""


class NotAccepted(Exception):
    """An operator control that the charger cannot honour now."""


@dataclass
class ChargingSession:
    ev: EV
    id_tag: str | None
    planned_end: datetime | None
    authorize: bool = True
    # Driven by an operator: no planned end, the driver unplugs when told.
    manual: bool = False
    transaction_id: int | str | None = None
    started_at: datetime | None = None
    power_w: float = 0.0
    # The power the last meter reading showed: a change is reported at once, not at the next sample.
    reported_w: float = 0.0
    last_at: datetime | None = None
    charging_state: str = PREPARING
    stop_reason: str | None = None
    seq_no: int = 0
    remote_start_id: int | None = None
    # The TxProfile a remote start came with: in force from the transaction's first second.
    start_profile: ChargingProfile | None = None
    unplugged: bool = False
    running: bool = False
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # Woken when something changes what the session may draw (a profile, a fault, a tag).
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once the transaction is closed (or never opened).
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_requested.set()
        self.wake.set()

    def next_seq(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


@dataclass
class Reservation:
    reservation_id: int
    id_tag: str
    expires: datetime


@dataclass
class ConnectorSim:
    """One connector; number 0 stands for the whole charger (availability only)."""

    connector_id: int
    energy_wh: float
    rng: random.Random
    status: str = AVAILABLE
    operative: bool = True
    fault: str | None = None
    reservation: Reservation | None = None
    session: ChargingSession | None = None

    @property
    def free(self) -> bool:
        return self.operative and self.fault is None and self.session is None

    def resting_status(self) -> str:
        """The status with no session on it."""
        if self.fault is not None:
            return FAULTED
        if not self.operative:
            return UNAVAILABLE
        if self.reservation is not None:
            return RESERVED
        return AVAILABLE


@dataclass
class UnsentStop:
    """A transaction cut off by a lost connection, to close after the next boot."""

    connector_id: int
    transaction_id: int | str
    meter_stop: int
    timestamp: str
    id_tag: str
    reason: str
    seq_no: int


class SimulatedCharger:
    """The behaviour every simulated charger shares; subclasses speak one OCPP version."""

    ocpp_version = ""
    subprotocol = ""

    def __init__(
        self,
        record: ChargerRecord,
        clock: Clock,
        rng: random.Random,
        *,
        auto_sessions: bool = True,
        response_timeout: float = 30.0,
        plan: SessionPlan | None = None,
    ) -> None:
        self.record = record
        self.clock = clock
        self.rng = rng
        self.auto_sessions = auto_sessions
        self.response_timeout = response_timeout
        self.plan = plan or SessionPlan()
        self.connectors: dict[int, ConnectorSim] = {}
        self.profiles = ProfileStore()
        # Security profile 3: its client certificate and key, the CSR it sent, the roots installed on it.
        self.certificates = SimCertificates(record.identity)
        self.local_list_version = 0
        self.local_list: dict[str, str] = {}
        self._message_ids = random.Random(rng.random())
        self._unsent_stops: list[UnsentStop] = []
        self._ensure_connectors()
        self.boot_reason = "PowerUp"
        self.firmware_version = FIRMWARE_VERSION
        # The update being installed across a reboot: (request id, signed), reported Installed after the boot.
        self._installing: tuple[int | None, bool] | None = None
        # One connection's worth of state, reset by `serve`.
        self._link: Any = None
        self._connection: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ended = asyncio.Event()
        self._failure: BaseException | None = None
        self._closed: ConnectionClosed | None = None
        self._reset_type: str | None = None
        # Powering off: no session starts, and those running end.
        self._closing = False
        self.online = False
        self.in_flight = 0
        # Told of every BootNotification answer (the runtime shows boot_pending / boot_rejected).
        self.on_boot: Callable[[str, int], None] = lambda status, interval: None

    # -- what each version provides ------------------------------------------------------

    def _make_link(self, connection: Any) -> Any:
        raise NotImplementedError

    def setting(self, name: str) -> str:
        """A neutral setting: heartbeat, sample_interval, authorize_remote, measurands."""
        raise NotImplementedError

    def _set_heartbeat(self, seconds: int) -> None:
        raise NotImplementedError

    async def _send_boot(self) -> tuple[str, int]:
        """(status, interval) of one BootNotification; status "CallError" when it was answered so."""
        raise NotImplementedError

    async def _send_heartbeat(self) -> None:
        raise NotImplementedError

    async def _send_status(self, connector: ConnectorSim, previous: str) -> None:
        raise NotImplementedError

    async def _send_authorize(self, id_tag: str) -> bool:
        raise NotImplementedError

    async def _send_start(self, connector: ConnectorSim, session: ChargingSession) -> bool:
        """Open the transaction (sets `session.transaction_id`); whether the id tag was accepted."""
        raise NotImplementedError

    async def _send_charging_state(self, connector: ConnectorSim, session: ChargingSession, previous: str) -> None:
        raise NotImplementedError

    async def _send_meter_values(
        self, connector: ConnectorSim, samples: list[dict[str, Any]], context: str
    ) -> None:
        raise NotImplementedError

    async def _send_stop(self, connector: ConnectorSim, session: ChargingSession, reason: str) -> None:
        raise NotImplementedError

    async def _send_unsent(self, stop: UnsentStop) -> None:
        raise NotImplementedError

    async def _send_fault_event(self, connector: ConnectorSim, error_code: str | None) -> None:
        """2.0.1 reports faults as events too; 1.6 has only the status."""

    async def _send_firmware_status(self, status: str, request_id: int | None, signed: bool) -> None:
        """A FirmwareStatusNotification (1.6 signed updates: SignedFirmwareStatusNotification)."""
        raise NotImplementedError

    async def _send_log_status(self, status: str, request_id: int | None, diagnostics: bool) -> None:
        """1.6 GetDiagnostics: DiagnosticsStatusNotification; a GetLog: LogStatusNotification."""
        raise NotImplementedError

    # -- identity and settings -------------------------------------------------------------

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

    def update_record(self, record: ChargerRecord) -> None:
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

    def setting_int(self, name: str) -> int:
        try:
            return max(1, int(self.setting(name)))
        except ValueError:
            return 1

    def measurands(self) -> set[str]:
        return {m.strip() for m in self.setting("measurands").split(",") if m.strip()}

    def _now(self) -> str:
        return iso(self.clock.now()) or ""

    # -- one connection ------------------------------------------------------------------

    async def serve(self, connection: Any, on_online: Callable[[], None]) -> str:
        """Run the charge point over an open WebSocket until it ends.

        Returns why it ended when the charger itself asked to (a Reset): the
        caller reconnects at once. Raises when the connection was lost or the
        central system misbehaved.
        """
        link = self._make_link(connection)
        self._link, self._connection = link, connection
        self._ended = asyncio.Event()
        self._failure = self._closed = None
        self._reset_type = None
        self._closing = False
        self._spawn(self._read(link))
        self._spawn(self._lifecycle(on_online))
        try:
            await self._ended.wait()
            reset, failure, closed = self._reset_type, self._failure, self._closed
        finally:
            await self._shutdown()
        if reset is not None:
            self.boot_reason = "FirmwareUpdate" if reset == FIRMWARE_REBOOT else "RemoteReset"
            return f"{reset} reset"
        self.boot_reason = "PowerUp"
        if failure is not None:
            raise failure
        raise ConnectionLost(describe_close(closed))

    async def power_off(self, reason: str, timeout: float) -> None:
        """End every session (transactions with `reason`) and wait at most `timeout` s for the central system.

        Call before closing the connection. What is not answered in time, or
        cannot be sent because the link is down, stays an unsent stop.
        """
        self._closing = True
        sessions = [c.session for c in self.outlets if c.session is not None]
        if not self.online or not sessions:
            return
        for session in sessions:
            session.request_stop(reason)
        waiters = [asyncio.ensure_future(session.done.wait()) for session in sessions]
        try:
            await asyncio.wait(waiters, timeout=timeout)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def drop(self) -> bool:
        """Cut the connection without a close frame, as a pulled cable would."""
        transport = getattr(self._connection, "transport", None)
        if transport is None:
            return False
        transport.abort()
        return True

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

    async def _read(self, link: Any) -> None:
        try:
            await link.start()
        except ConnectionClosed as closed:
            self._closed = closed
        self._ended.set()

    async def _shutdown(self) -> None:
        self.online = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._link = self._connection = None
        self.in_flight = 0
        self._integrate_all()
        at = self._now()
        for connector in self.outlets:
            session = connector.session
            if session is not None and session.transaction_id is not None:
                self._unsent_stops.append(
                    UnsentStop(
                        connector.connector_id,
                        session.transaction_id,
                        int(connector.energy_wh),
                        at,
                        session.id_tag or "",
                        POWER_LOSS,
                        session.next_seq(),
                    )
                )
            if session is not None:
                session.power_w = 0.0
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
        if self._installing is not None:
            request_id, signed = self._installing
            self._installing = None
            await self._send_firmware_status("Installed", request_id, signed)
        while self._unsent_stops:
            await self._send_unsent(self._unsent_stops[0])
            self._unsent_stops.pop(0)
        for connector in self.connectors.values():
            await self._status(connector, connector.resting_status())
        self.online = True
        on_online()
        if self.auto_sessions:
            for connector in self.outlets:
                self._spawn(self._arrivals(connector))
        while True:
            await self.clock.sleep(self.setting_int("heartbeat"))
            await self._send_heartbeat()

    async def _boot(self) -> None:
        while True:
            status, interval = await self._send_boot()
            self.on_boot(status, interval)
            if status == "Accepted":
                if interval > 0:
                    self._set_heartbeat(interval)
                return
            await self.clock.sleep(interval if interval > 0 else BOOT_RETRY)

    async def _status(self, connector: ConnectorSim, status: str) -> None:
        previous, connector.status = connector.status, status
        await self._send_status(connector, previous)

    # -- EV sessions -------------------------------------------------------------------------

    def _arriving_ev(self, rng: random.Random, soc: float | None = None, battery_kwh: float | None = None) -> EV:
        ev = EV.arriving(rng, battery_kwh=self.plan.battery_kwh, soc=self.plan.soc)
        if soc is not None:
            ev.soc = float(soc)
        if battery_kwh is not None:
            ev.battery_kwh = float(battery_kwh)
        return ev

    def _new_session(self, connector: ConnectorSim, id_tag: str | None, authorize: bool) -> ChargingSession:
        rng = connector.rng
        ev = self._arriving_ev(rng)
        length = rng.uniform(*self.plan.session_length)
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
        await self.clock.sleep(rng.uniform(*self.plan.first_arrival))
        while True:
            if connector.free and connector.reservation is None and not self._closing:
                id_tag = f"{rng.getrandbits(32):08X}"
                session = self._new_session(connector, id_tag, authorize=True)
                await self._run_session(connector, session)
            await self.clock.sleep(rng.uniform(*self.plan.idle_gap))

    async def _run_session(self, connector: ConnectorSim, session: ChargingSession) -> None:
        try:
            if connector.status != PREPARING and connector.fault is None:
                await self._status(connector, PREPARING)
            while True:
                if self._closing:
                    return
                if session.unplugged or (session.stop_requested.is_set() and not session.manual):
                    await self._unplug(connector)
                    return
                # An operator's car stays plugged in, whatever happens, until the operator unplugs it.
                session.stop_requested.clear()
                session.stop_reason = None
                if session.id_tag is None or connector.fault is not None or not connector.operative:
                    # Waiting for a tag, a remote start, a cleared fault or an unplug.
                    await self._wait(session, None)
                    continue
                if not session.authorize or await self._authorized(session.id_tag):
                    break
                if not session.manual:
                    session.request_stop(DE_AUTHORIZED)
                    continue
                session.id_tag = None  # a rejected card; the driver may try another
            if self._closing:
                return
            if connector.reservation is not None and connector.reservation.id_tag == session.id_tag:
                connector.reservation = None
            session.started_at = session.last_at = self.clock.now()
            accepted = await self._send_start(connector, session)
            if session.transaction_id is None:
                await self._end_without_transaction(connector, session)
                return
            if session.start_profile is not None:
                session.start_profile.transaction_id = str(session.transaction_id)
                self.profiles.install(session.start_profile)
            if not accepted:
                session.request_stop(DE_AUTHORIZED)
            else:
                await self._charge(connector, session)
            await self._finish(connector, session)
        finally:
            session.done.set()

    async def _authorized(self, id_tag: str) -> bool:
        if self.local_list.get(id_tag) == "Accepted":
            return True
        return await self._send_authorize(id_tag)

    async def _end_without_transaction(self, connector: ConnectorSim, session: ChargingSession) -> None:
        if session.manual and not session.unplugged:
            await self._wait_for_unplug(session)
        await self._unplug(connector)

    async def _charge(self, connector: ConnectorSim, session: ChargingSession) -> None:
        """Charge until the driver leaves or someone stops the session."""
        self._reallocate()
        await self._charging_state(connector, session)
        await self._meter_values(connector, "Transaction.Begin")
        self._wake_sessions()  # the others now share the supply with this one, and say so
        next_sample = self.clock.now() + timedelta(seconds=self.setting_int("sample_interval"))
        while True:
            now = self.clock.now()
            wake_at = next_sample
            if session.planned_end is not None:
                wake_at = min(wake_at, session.planned_end)
            change = self._next_profile_change(now)
            if change is not None:
                wake_at = min(wake_at, change)
            stopped = await self._wait(session, max(0.0, (wake_at - now).total_seconds()))
            self._reallocate()
            if stopped:
                return
            now = self.clock.now()
            if session.planned_end is not None and now >= session.planned_end:
                session.request_stop(EV_DISCONNECTED if session.ev.full else LOCAL)
                return
            await self._charging_state(connector, session)
            if now >= next_sample:
                await self._meter_values(connector, "Sample.Periodic")
                next_sample = now + timedelta(seconds=self.setting_int("sample_interval"))
            elif abs(session.power_w - session.reported_w) >= 1.0:
                # Another connector started or stopped, or a limit changed: a real meter shows it now.
                await self._meter_values(connector, "Other")

    async def _charging_state(self, connector: ConnectorSim, session: ChargingSession) -> None:
        """Tell the central system when the session goes between charging and suspended."""
        offered = self._offered_w(connector, session)
        if offered <= 0:
            wanted = SUSPENDED_EVSE
        elif session.ev.full or session.power_w <= 0:
            wanted = SUSPENDED_EV
        else:
            wanted = CHARGING
        if wanted != session.charging_state:
            previous, session.charging_state = session.charging_state, wanted
            await self._send_charging_state(connector, session, previous)

    async def _wait(self, session: ChargingSession, seconds: float | None) -> bool:
        """Sleep until `seconds` pass (None: forever) or the session is woken; whether it was stopped."""
        if not session.stop_requested.is_set() and not session.wake.is_set():
            waiters = [asyncio.ensure_future(session.wake.wait())]
            if seconds is not None:
                waiters.append(asyncio.ensure_future(self.clock.sleep(seconds)))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        session.wake.clear()
        return session.stop_requested.is_set()

    async def _wait_for_unplug(self, session: ChargingSession) -> None:
        while not session.unplugged:
            await self._wait(session, None)
            session.stop_requested.clear()

    async def _finish(self, connector: ConnectorSim, session: ChargingSession) -> None:
        reason = session.stop_reason or LOCAL
        self._integrate_all()
        session.power_w = 0.0
        session.charging_state = FINISHING
        await self._send_stop(connector, session, reason)
        if session.transaction_id is not None:
            self.profiles.end_transaction(str(session.transaction_id))
        session.transaction_id = None
        self._reallocate()
        self._wake_sessions()  # the others may draw more now, and say so
        # The transaction is closed: a Reset need not wait for the driver to unplug.
        session.done.set()
        if reason in (SOFT_RESET, HARD_RESET, REBOOT, POWER_LOSS):
            # The reboot (or the power coming back) announces every connector anew.
            connector.session = None
            return
        if not session.unplugged and connector.fault is None:
            await self._status(connector, FINISHING)
            if session.manual:
                await self._wait_for_unplug(session)
            else:
                await self.clock.sleep(connector.rng.uniform(*self.plan.unplug_delay))
        await self._unplug(connector)

    async def _unplug(self, connector: ConnectorSim) -> None:
        connector.session = None
        await self._status(connector, connector.resting_status())

    # -- power: profiles, the shared supply, energy ------------------------------------------

    def _limits(self, connector: ConnectorSim, session: ChargingSession | None) -> tuple[float | None, float | None]:
        transaction_id = None
        if session is not None and session.transaction_id is not None:
            transaction_id = str(session.transaction_id)
        found = self.profiles.limits(
            connector.connector_id,
            self.clock.now(),
            transaction_id,
            session.started_at if session else None,
        )
        return found.tx_w, found.max_w

    def _charger_cap(self) -> float:
        cap = float(self.record.max_charging_power)
        _, max_w = self._limits(self.connectors[0], None)
        return cap if max_w is None else min(cap, max_w)

    def _offered_w(self, connector: ConnectorSim, session: ChargingSession) -> float:
        """What the charger offers this connector before sharing with the others."""
        if connector.fault is not None or not connector.operative:
            return 0.0
        tx_w, _ = self._limits(connector, session)
        offered = self._charger_cap()
        return offered if tx_w is None else min(offered, tx_w)

    def _next_profile_change(self, now: datetime) -> datetime | None:
        changes = []
        for connector in self.outlets:
            session = connector.session
            transaction_id = str(session.transaction_id) if session and session.transaction_id is not None else None
            found = self.profiles.limits(
                connector.connector_id, now, transaction_id, session.started_at if session else None
            )
            if found.next_change is not None:
                changes.append(found.next_change)
        return min(changes) if changes else None

    def _integrate_all(self) -> None:
        """Book the energy every session drew since it was last booked, at the power it drew."""
        now = self.clock.now()
        for connector in self.outlets:
            session = connector.session
            if session is None or session.last_at is None:
                continue
            elapsed = (now - session.last_at).total_seconds()
            if elapsed > 0 and session.power_w > 0:
                connector.energy_wh += session.ev.charge(session.power_w, elapsed)
            session.last_at = now

    def _reallocate(self) -> None:
        """Share the charger's supply among the charging sessions, each within its own limit.

        Energy is booked first, so a change of power never rewrites the past.
        Water-filling: the smallest demands are served in full and the rest
        split what is left evenly, so the sum never exceeds the charger's cap.
        """
        self._integrate_all()
        charging = [
            (connector, connector.session)
            for connector in self.outlets
            if connector.session is not None
            and connector.session.transaction_id is not None
            and not connector.session.stop_requested.is_set()
        ]
        for connector in self.outlets:
            if connector.session is not None and (connector, connector.session) not in charging:
                connector.session.power_w = 0.0
        demands = sorted(
            ((session.ev.power_w(self._offered_w(connector, session)), connector.connector_id, session)
             for connector, session in charging),
            key=lambda item: (item[0], item[1]),
        )
        remaining = self._charger_cap()
        for index, (demand, _, session) in enumerate(demands):
            share = remaining / (len(demands) - index)
            # The demand already is what the car accepts: it draws that, or the share when less.
            session.power_w = min(demand, share)
            remaining -= session.power_w

    def _wake_sessions(self) -> None:
        for connector in self.outlets:
            if connector.session is not None:
                connector.session.wake.set()

    # -- meter values ------------------------------------------------------------------------

    def _samples(self, connector: ConnectorSim, context: str, wanted: set[str] | None = None) -> list[dict[str, Any]]:
        """One reading of the meter (`wanted` measurands, else the sampled ones), in neutral form."""
        session = connector.session
        charging = session is not None and session.transaction_id is not None
        power = session.power_w if charging and session else 0.0
        wanted = self.measurands() if wanted is None else wanted
        sampled: list[dict[str, Any]] = []

        def add(measurand: str, value: float, unit: str, phase: str | None = None, location: str = "Outlet") -> None:
            if measurand in wanted:
                sampled.append(
                    {"measurand": measurand, "value": round(value, 1), "unit": unit, "phase": phase,
                     "location": location, "context": context}
                )

        add(ENERGY, connector.energy_wh, "Wh")
        add(POWER, power, "W")
        for phase in ("L1", "L2", "L3"):
            add(CURRENT, phase_current(power), "A", phase)
        add(VOLTAGE_M, VOLTAGE, "V")
        if session is not None and charging:
            add(SOC, session.ev.soc, "Percent", location="EV")
        return sampled

    async def _meter_values(self, connector: ConnectorSim, context: str) -> None:
        if connector.session is not None:
            connector.session.reported_w = connector.session.power_w
        samples = self._samples(connector, context)
        if samples:
            await self._send_meter_values(connector, samples, context)

    # -- what the central system asks (decisions shared by both versions) ---------------------

    def find_connector(self, connector_id: int | None) -> ConnectorSim | None:
        if connector_id is None:
            return next((c for c in self.outlets if c.free and c.reservation is None), None)
        return self.connectors.get(connector_id) if connector_id > 0 else None

    def session_of(self, transaction_id: int | str) -> tuple[ConnectorSim, ChargingSession] | None:
        for connector in self.outlets:
            session = connector.session
            if session is not None and session.transaction_id is not None and str(session.transaction_id) == str(
                transaction_id
            ):
                return connector, session
        return None

    def remote_start(
        self,
        id_tag: str,
        connector_id: int | None,
        remote_start_id: int | None = None,
        profile: dict[str, Any] | None = None,
    ) -> bool:
        """Accept a remote start: on a connector with a waiting car, or a free one the driver plugs into now.

        A charging profile given with it (snake_case, as the handler has it) must be a TxProfile
        the charger can keep; it then governs the session from its start.
        """
        connector = None
        if connector_id is None:
            # A car already plugged in and waiting is the one the driver means.
            connector = next(
                (c for c in self.outlets if c.session is not None and c.session.id_tag is None and c.session.manual),
                None,
            )
        connector = connector or self.find_connector(connector_id)
        if connector is None or not connector.operative or connector.fault is not None or self._closing:
            return False
        if connector.reservation is not None and connector.reservation.id_tag != id_tag:
            return False
        start_profile = None
        if profile is not None:
            try:
                start_profile = ChargingProfile.from_ocpp(connector.connector_id, profile, self.clock.now())
            except (ProfileRejected, KeyError, TypeError, ValueError):
                return False
            if start_profile.purpose != TX:
                return False
        authorize = self.setting("authorize_remote").lower() == "true"
        session = connector.session
        if session is not None:
            if session.id_tag is not None or session.transaction_id is not None:
                return False
            session.id_tag, session.authorize, session.remote_start_id = id_tag, authorize, remote_start_id
            session.start_profile = start_profile
            session.wake.set()
            return True
        session = self._new_session(connector, id_tag, authorize=authorize)
        session.remote_start_id = remote_start_id
        session.start_profile = start_profile
        # Started once the answer is on the wire (`after_remote_start`).
        return True

    def after_remote_start(self) -> None:
        for connector in self.outlets:
            session = connector.session
            if session is not None and not session.running:
                session.running = True
                self._spawn(self._run_session(connector, session))

    def remote_stop(self, transaction_id: int | str) -> bool:
        return self.session_of(transaction_id) is not None

    def after_remote_stop(self, transaction_id: int | str) -> None:
        found = self.session_of(transaction_id)
        if found is not None:
            found[1].request_stop(REMOTE)

    def reset(self, reset_type: str, stop_reason: str, on_idle: bool = False) -> None:
        self._spawn(self._reset(reset_type, stop_reason, on_idle))

    @property
    def busy(self) -> bool:
        return any(c.session is not None and c.session.transaction_id is not None for c in self.outlets)

    async def _reset(self, reset_type: str, stop_reason: str, on_idle: bool) -> None:
        sessions = [c.session for c in self.outlets if c.session is not None and c.session.transaction_id is not None]
        for session in sessions:
            if not on_idle:
                session.request_stop(stop_reason)
        await asyncio.gather(*(session.done.wait() for session in sessions))
        self._reset_type = reset_type
        self._ended.set()

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """Accepted, Scheduled (a session runs: applies when it ends) or Rejected."""
        if connector_id not in self.connectors:
            return "Rejected"
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        for connector in targets:
            connector.operative = operative
        if not operative and any(c.session is not None for c in targets if c.connector_id > 0):
            return "Scheduled"
        return "Accepted"

    def after_change_availability(self, connector_id: int) -> None:
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors.get(connector_id)]
        self._spawn(self._announce([c for c in targets if c is not None]))

    async def _announce(self, targets: list[ConnectorSim]) -> None:
        for connector in targets:
            if connector.session is None and connector.status != connector.resting_status():
                await self._status(connector, connector.resting_status())

    def unlock(self, connector_id: int) -> bool:
        if connector_id < 1 or connector_id not in self.connectors:
            return False
        session = self.connectors[connector_id].session
        if session is not None and session.transaction_id is not None:
            session.request_stop(UNLOCK)
        return True

    def set_profile(self, connector_id: int, data: dict[str, Any]) -> bool:
        if connector_id not in self.connectors:
            return False
        try:
            profile = ChargingProfile.from_ocpp(connector_id, data, self.clock.now())
            if profile.purpose == TX:
                found = self.session_of(profile.transaction_id) if profile.transaction_id else None
                session = self.connectors[connector_id].session
                if found is None and (session is None or session.transaction_id is None):
                    raise ProfileRejected("a transaction profile needs a transaction on the connector")
                if profile.transaction_id is None and session is not None:
                    profile.transaction_id = str(session.transaction_id)
            self.profiles.install(profile)
        except (ProfileRejected, KeyError, TypeError, ValueError):
            return False
        self._reallocate()
        self._wake_sessions()
        return True

    def clear_profiles(self, **criteria: Any) -> bool:
        removed = self.profiles.clear(**criteria)
        if removed:
            self._reallocate()
            self._wake_sessions()
        return removed > 0

    def composite_schedule(self, connector_id: int, duration: int, unit: str | None) -> dict[str, Any] | None:
        connector = self.connectors.get(connector_id)
        if connector is None:
            return None
        session = connector.session
        periods = self.profiles.composite(
            connector_id,
            self.clock.now(),
            duration,
            float(self.record.max_charging_power),
            unit or "W",
            str(session.transaction_id) if session and session.transaction_id is not None else None,
            session.started_at if session else None,
        )
        return {"start": self.clock.now(), "duration": duration, "unit": unit or "W", "periods": periods}

    def send_local_list(self, version: int, update_type: str, entries: list[tuple[str, str | None]]) -> str:
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        if update_type == "Full":
            self.local_list = {}
        for id_tag, status in entries:
            if status is None:
                self.local_list.pop(id_tag, None)
            else:
                self.local_list[id_tag] = status
        self.local_list_version = version
        return "Accepted"

    def reserve(self, connector_id: int, reservation_id: int, id_tag: str, expires: datetime) -> str:
        """Accepted, Occupied, Faulted, Unavailable or Rejected, as a 1.6 and a 2.0.1 charger answer."""
        for other in self.outlets:
            # The same reservation id again replaces the reservation.
            if other.reservation is not None and other.reservation.reservation_id == reservation_id:
                other.reservation = None
        connector = self.find_connector(None) if connector_id == 0 else self.connectors.get(connector_id)
        if connector is None or connector.connector_id == 0:
            return "Occupied" if connector_id == 0 else "Rejected"
        if connector.fault is not None:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        if connector.session is not None or (
            connector.reservation is not None and connector.reservation.reservation_id != reservation_id
        ):
            return "Occupied"
        if expires <= self.clock.now():
            return "Rejected"
        connector.reservation = Reservation(reservation_id, id_tag, expires)
        self._spawn(self._reservation(connector, connector.reservation))
        return "Accepted"

    async def _reservation(self, connector: ConnectorSim, reservation: Reservation) -> None:
        await self._status(connector, RESERVED)
        await self.clock.sleep((reservation.expires - self.clock.now()).total_seconds())
        if connector.reservation is reservation:
            connector.reservation = None
            await self._reservation_ended(connector, reservation, "Expired")
            if connector.session is None:
                await self._status(connector, connector.resting_status())

    async def _reservation_ended(self, connector: ConnectorSim, reservation: Reservation, why: str) -> None:
        """2.0.1 tells the central system; 1.6 only changes the status."""

    def cancel_reservation(self, reservation_id: int) -> bool:
        for connector in self.outlets:
            if connector.reservation is not None and connector.reservation.reservation_id == reservation_id:
                connector.reservation = None
                if connector.session is None:
                    self._spawn(self._status(connector, connector.resting_status()))
                return True
        return False

    # -- firmware and logs ---------------------------------------------------------------------

    def update_firmware(
        self,
        location: str,
        retrieve_at: datetime | None,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None = None,
        signed: bool = False,
    ) -> None:
        """Fetch the image from `location` (for real), install it and reboot into it, reporting each stage."""
        self._spawn(self._firmware_update(location, retrieve_at, retries, retry_interval, request_id, signed))

    async def _firmware_update(
        self,
        location: str,
        retrieve_at: datetime | None,
        retries: int | None,
        retry_interval: int | None,
        request_id: int | None,
        signed: bool,
    ) -> None:
        wait = (retrieve_at - self.clock.now()).total_seconds() if retrieve_at is not None else 0
        if wait > 0:
            await self._send_firmware_status("DownloadScheduled", request_id, signed)
            await self.clock.sleep(wait)
        image = None
        for attempt in range(max(1, retries or 0)):
            if attempt:
                await self.clock.sleep(retry_interval or 0)
            await self._send_firmware_status("Downloading", request_id, signed)
            image = await fetch(location)
            if image is not None:
                break
        if image is None:
            await self._send_firmware_status("DownloadFailed", request_id, signed)
            return
        await self._send_firmware_status("Downloaded", request_id, signed)
        if signed:
            # The signature is taken as valid: the simulator holds no manufacturer's root certificate.
            await self._send_firmware_status("SignatureVerified", request_id, signed)
        version = firmware_version_of(location, image)
        if version is None:
            await self._send_firmware_status("Installing", request_id, signed)
            await self._send_firmware_status("InstallationFailed", request_id, signed)
            return
        await self._send_firmware_status("Installing", request_id, signed)
        self.firmware_version = version
        self._installing = (request_id, signed)
        await self._rebooting(request_id, signed)
        await self._reset(FIRMWARE_REBOOT, REBOOT, on_idle=False)

    async def _rebooting(self, request_id: int | None, signed: bool) -> None:
        """2.0.1 says InstallRebooting; 1.6 has no such stage."""

    def upload_logs(
        self,
        location: str,
        log_type: str,
        request_id: int | None,
        retries: int | None,
        retry_interval: int | None,
        diagnostics: bool,
        name: str,
    ) -> None:
        """Generate a log file and upload it to `location` as `name` (HTTP POST, multipart)."""
        self._spawn(self._upload(location, name, log_type, request_id, retries, retry_interval, diagnostics))

    def log_name(self, log_type: str) -> str:
        return f"{self.identity}-{log_type}-{self.clock.now():%Y%m%dT%H%M%SZ}.log"

    async def _upload(
        self,
        location: str,
        name: str,
        log_type: str,
        request_id: int | None,
        retries: int | None,
        retry_interval: int | None,
        diagnostics: bool,
    ) -> None:
        content = self.log_text(log_type).encode()
        for attempt in range(max(1, retries or 0)):
            if attempt:
                await self.clock.sleep(retry_interval or 0)
            await self._send_log_status("Uploading", request_id, diagnostics)
            if await upload(location, name, content):
                await self._send_log_status("Uploaded", request_id, diagnostics)
                return
        await self._send_log_status("UploadFailed" if diagnostics else "UploadFailure", request_id, diagnostics)

    def log_text(self, log_type: str) -> str:
        """A charger's log as a file: who it is, what it runs, each connector's state and meter."""
        lines = [
            f"# {log_type} of {self.identity} ({self.ocpp_version}), written {self._now()}",
            f"{self._now()} INFO firmware {self.firmware_version}",
            f"{self._now()} INFO boot reason {self.boot_reason}, online {self.online}",
        ]
        for connector in self.outlets:
            session = connector.session
            lines.append(
                f"{self._now()} INFO connector {connector.connector_id} {connector.status}"
                f" register {connector.energy_wh:.0f} Wh"
                + (f" fault {connector.fault}" if connector.fault else "")
                + (f" transaction {session.transaction_id}" if session is not None and session.transaction_id else "")
            )
        if log_type == "SecurityLog":
            lines.append(f"{self._now()} INFO security: no events since boot")
        return "\n".join(lines) + "\n"

    # -- operator controls ---------------------------------------------------------------------

    def _outlet(self, connector_id: int) -> ConnectorSim:
        connector = self.connectors.get(connector_id)
        if connector is None or connector_id < 1:
            raise NotAccepted(f"{self.identity} has no connector {connector_id}")
        return connector

    def _require_online(self) -> None:
        if not self.online:
            raise NotAccepted(f"{self.identity} is not online")
        if self._closing:
            raise NotAccepted(f"{self.identity} is switching off")

    def plug_in(self, connector_id: int, soc: float | None = None, battery_kwh: float | None = None) -> str:
        self._require_online()
        connector = self._outlet(connector_id)
        if connector.session is not None:
            raise NotAccepted(f"connector {connector_id} of {self.identity} already has a car plugged in")
        if connector.fault is not None or not connector.operative:
            raise NotAccepted(f"connector {connector_id} of {self.identity} is {connector.resting_status().lower()}")
        ev = self._arriving_ev(connector.rng, soc, battery_kwh)
        session = ChargingSession(ev=ev, id_tag=None, planned_end=None, manual=True, running=True)
        connector.session = session
        self._spawn(self._run_session(connector, session))
        return (
            f"EV plugged into connector {connector_id} of {self.identity} "
            f"({ev.battery_kwh:g} kWh at {ev.soc:g} %), waiting for authorization"
        )

    def unplug(self, connector_id: int) -> str:
        self._require_online()
        session = self._outlet(connector_id).session
        if session is None:
            raise NotAccepted(f"no car on connector {connector_id} of {self.identity}")
        session.unplugged = True
        session.request_stop(EV_DISCONNECTED)
        return f"EV unplugged from connector {connector_id} of {self.identity}"

    def present_id_tag(self, connector_id: int, id_tag: str) -> str:
        self._require_online()
        connector = self._outlet(connector_id)
        session = connector.session
        if session is None:
            raise NotAccepted(f"no car on connector {connector_id} of {self.identity}: plug one in first")
        if session.transaction_id is not None:
            if id_tag == session.id_tag:
                session.request_stop(LOCAL)
                return f"{id_tag} presented on connector {connector_id}: stopping the session"
            raise NotAccepted(f"connector {connector_id} of {self.identity} is charging for another tag")
        if session.id_tag is not None:
            raise NotAccepted(f"connector {connector_id} of {self.identity} is already authorizing {session.id_tag}")
        session.id_tag, session.authorize = id_tag, True
        session.wake.set()
        return f"{id_tag} presented on connector {connector_id} of {self.identity}"

    def inject_fault(self, connector_id: int, error_code: str) -> str:
        self._require_online()
        connector = self._outlet(connector_id)
        connector.fault = error_code
        session = connector.session
        if session is not None:
            session.request_stop(OTHER)
        self._spawn(self._faulted(connector, error_code))
        return f"connector {connector_id} of {self.identity} faulted ({error_code})"

    async def _faulted(self, connector: ConnectorSim, error_code: str) -> None:
        session = connector.session
        # A session's end announces the fault itself.
        if session is None or session.transaction_id is None:
            await self._status(connector, FAULTED)
        await self._send_fault_event(connector, error_code)

    def clear_fault(self, connector_id: int) -> str:
        self._require_online()
        connector = self._outlet(connector_id)
        if connector.fault is None:
            raise NotAccepted(f"connector {connector_id} of {self.identity} has no fault")
        connector.fault = None
        self._spawn(self._fault_cleared(connector))
        return f"connector {connector_id} of {self.identity}: fault cleared"

    async def _fault_cleared(self, connector: ConnectorSim) -> None:
        await self._send_fault_event(connector, None)
        session = connector.session
        await self._status(connector, PREPARING if session is not None else connector.resting_status())
        if session is not None:
            session.wake.set()


async def fetch(location: str) -> bytes | None:
    """The file at `location` (http or https), or None when it could not be fetched whole."""
    try:
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
            answer = await client.get(location)
    except (httpx.HTTPError, ValueError):
        return None
    return answer.content if answer.status_code == 200 else None


async def upload(location: str, name: str, content: bytes) -> bool:
    """POST `content` as a multipart file to `location`; whether it was taken."""
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(location, files={"file": (name, content, "text/plain")})
    except (httpx.HTTPError, ValueError):
        return False
    return answer.is_success


def firmware_version_of(location: str, image: bytes) -> str | None:
    """The version an image installs: its header's, else its file name's; None for an empty image."""
    if not image:
        return None
    first = image.split(b"\n", 1)[0]
    if first.startswith(FIRMWARE_HEADER):
        version = first[len(FIRMWARE_HEADER) :].decode("utf-8", "replace").strip()
        return version[:50] or None
    name = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".bin", ".img", ".zip", ".fw"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name[:50] or None


def describe_close(closed: ConnectionClosed | None) -> str:
    if closed is None or closed.rcvd is None:
        return "the connection dropped without a close frame"
    reason = f" '{closed.rcvd.reason}'" if closed.rcvd.reason else ""
    return f"closed by the central system (code {closed.rcvd.code}{reason})"
