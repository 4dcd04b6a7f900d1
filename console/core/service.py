"""The console service: the single facade every front end uses (the `Backend`)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from console.core.clock import Clock, SystemClock
from console.core import catalogue, operations as ops
from console.core.catalogue import OperationSpec
from console.core.errors import Conflict, ConsoleError, NotFound, Unavailable, ValidationFailed
from console.core.engine import ActionEngine
from console.core.events import EventBus, Notice, StoreHealth, Subscription
from console.core.firmware import Firmware
from console.core.fleet import DEFAULT_ORG, FleetService
from console.core.ledger import ActionLedger
from console.core.live import LiveState, log_view
from console.core.models import Action, Charger, Location, LogEntry, Transaction
from console.core.operations import OperationRefused, OperationResult
from console.core.planning import DepotPlanner
from console.core.powercap import CAP_PROFILE_ID, PowerCap
from console.core.passwords import mask_secrets
from console.core.ports import ChargerGateway, RuntimeControl
from console.core.queries import Queries, action_view
from console.core.registration import Registrations
from console.core.retention import Pruner
from console.core.store import Store
from console.core.certificates import CertificateService
from console.core.configuration import ChargerSettings
from console.core.reservations import Reservations
from console.core.schedules import Schedules
from console.core.tokens import LocalLists, LocalListView, TokenRegistry, TokenView, read_csv
from console.core.views import (
    ActionView,
    BackendInfo,
    ChargerEventView,
    ChargerView,
    CompositeScheduleView,
    ConfigurationView,
    LocationView,
    ReservationView,
    LogView,
    PowerSample,
    ProfileView,
    TransactionView,
    UnknownChargerView,
)
from console.core.writer import BatchWriter
from console.core.versions import OcppVersion

log = logging.getLogger(__name__)


class ConsoleService:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        ocpp_url: str = "",
        read_only: bool = False,
        flush_interval: float = 0.5,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.writer = BatchWriter(store, interval=flush_interval)
        store.health_listeners.append(self._store_health)
        self.fleet = FleetService(store, self.clock)
        self.live = LiveState(store, self.bus, self.clock, self.writer)
        self.registrations = Registrations(store, self.clock, self.bus, self.fleet, self.live)
        self.queries = Queries(store, self.live)
        self.tokens = TokenRegistry(store, self.clock, self.bus)
        self.ledger = ActionLedger(store, self.clock, self.bus, self.live)
        self.engine = ActionEngine(self.clock, self.live, self.ledger)
        self.power_cap = PowerCap(
            self.live,
            self.bus,
            self.clock,
            self.operate,
            lambda identity: self.gateway is not None and self.gateway.is_connected(identity),
            self.engine.command_limit_w,
        )
        self.planner = DepotPlanner(
            store, self.live, self.bus, self.clock, self.operate,
            lambda identity: self.gateway is not None and self.gateway.is_connected(identity),
        )
        self.power_cap.planned = self.planner.planned
        self.runtime: RuntimeControl | None = None
        self.gateway: ChargerGateway | None = None
        # The retention pruner, when one runs (the depot's): it says how far back raw data goes.
        self.pruner: Pruner | None = None
        self.local_lists = LocalLists(store, self.clock, self.tokens, self.live.record, self.operate)
        # Chargers' certificate signing requests; a lab CA (--ca-cert/--ca-key) is set by the depot.
        self.certificates = CertificateService(self.live.record, self.operate, self.live.charger_event)
        self.firmware = Firmware(self.live, self.bus, self.clock, self.operate, store.url)
        self.settings = ChargerSettings(store, self.clock, self.live, self.operate)
        self.reservations = Reservations(store, self.clock, self.live, self.operate)
        self.schedules = Schedules(store, self.live, self.operate)
        # A profile in watts refused by an amperes-only charger: its unit is read, and the cap sent again in amperes.
        self.ledger.listeners.append(self.settings.profile_settled)
        self.settings.rate_listeners.append(self._rate_learned)
        self._info = BackendInfo(
            mode="embedded", ocpp_url=ocpp_url, store=store.display_url, read_only=read_only
        )
        # API keys whose last-used time is on its way to the store.
        self._key_uses: set[str] = set()
        # Calls the console makes of its own accord after an operator's decision (a boot asked for).
        self._follow_ups: set[asyncio.Task[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await self.store.run(self._load)
        self.writer.start()
        await self.engine.start()
        await self.power_cap.start()
        await self.planner.start()

    def _load(self, session: Session) -> None:
        self.fleet.ensure_org(session, DEFAULT_ORG)
        self.live.load(session)
        self.tokens.load(session)
        self.registrations.load(session)
        self.settings.load(session)
        self.reservations.load(session)

    async def close(self) -> None:
        await self.firmware.close()
        await self.planner.stop()
        await self.power_cap.stop()
        await self.engine.stop()
        await self.writer.stop()

    def attach(self, *, runtime: RuntimeControl | None = None, gateway: ChargerGateway | None = None) -> None:
        if runtime is not None:
            self.runtime = runtime
        if gateway is not None:
            self.gateway = gateway
            self.ledger.gateway = gateway

    def set_ocpp_url(self, url: str) -> None:
        self._info = BackendInfo(
            mode=self._info.mode, ocpp_url=url, store=self._info.store, read_only=self._info.read_only
        )

    @property
    def info(self) -> BackendInfo:
        info = self._info
        if self.pruner is not None and self.pruner.raw_since:
            since = self.pruner.raw_since
            info = replace(info, frames_since=since.get("frames"), samples_since=since.get("samples"))
        if self.store.unavailable is not None:
            return replace(info, store_unavailable=self.store.unavailable)
        return info

    def _store_health(self, reason: str | None) -> None:
        self.bus.publish(StoreHealth(reason, self.writer.queued, self.writer.dropped))

    async def import_if_empty(self, path: Path) -> int:
        """First run: an empty store gets the sample fleet. Returns chargers imported."""
        data = json.loads(path.read_text())

        def work(session: Session) -> int:
            if self.fleet.count(session):
                return 0
            _, chargers = self.fleet.import_fleet(session, data)
            self.live.load(session)
            self.tokens.load(session)
            self.planner.load(session)
            return chargers

        imported = await self.store.run(work)
        if imported:
            self.bus.publish(Notice(f"First run: imported {imported} chargers from {path.name}"))
        return imported

    # -- reads -----------------------------------------------------------------------

    async def list_chargers(self) -> list[ChargerView]:
        return sorted(self.live.views(), key=lambda view: view.identity)

    async def get_charger(self, charger_id: str) -> ChargerView:
        if self.live.record(charger_id) is None:
            raise NotFound(f"no charger {charger_id!r}")
        return self.live.view(charger_id)

    async def list_locations(self) -> list[LocationView]:
        """Every location with what its chargers draw now and, under a cap, the headroom left."""
        views = []
        for location in self.live.locations():
            headroom = self.power_cap.headroom(location.id)
            views.append(
                replace(location, delivered_kw=round(headroom.delivered_kw, 2), headroom_kw=headroom.headroom_kw)
            )
        return views

    async def set_location_cap(self, location_id: str, power_cap_kw: float | None) -> LocationView:
        """Set or remove a location's power cap (kW); the chargers there are re-balanced."""
        self._writable()
        if power_cap_kw is not None and (isinstance(power_cap_kw, bool) or not power_cap_kw > 0):
            raise ValidationFailed({"power_cap_kw": "must be a number of kW above 0, or none"})

        def write(session: Session) -> list[Location]:
            location = session.get(Location, location_id)
            if location is None:
                raise NotFound(f"no location {location_id!r}")
            location.power_cap_kw = power_cap_kw
            location.updated_at = self.clock.now()
            session.add(location)
            session.commit()
            return self.fleet.locations(session)

        self.live.locations_changed(await self.store.run(write))
        self.power_cap.location_changed(location_id)
        self.planner.mark(location_id)
        return next(view for view in await self.list_locations() if view.id == location_id)

    async def charger_logs(self, charger_id: str, limit: int = 200) -> list[LogView]:
        await self.writer.flush()

        def read(session: Session) -> list[LogView]:
            rows = session.exec(
                select(LogEntry)
                .where(LogEntry.charger_id == charger_id)
                .order_by(col(LogEntry.id).desc())
                .limit(limit)
            ).all()
            return [log_view(row) for row in reversed(rows)]

        return await self.store.run(read)

    async def list_actions(self, charger_id: str | None = None, limit: int = 200) -> list[ActionView]:
        """Newest first: one charger's history, or the fleet's when no charger is given."""
        await self.writer.flush()
        return await self.queries.actions(charger_id, limit)

    async def list_transactions(self, charger_id: str, limit: int = 100) -> list[TransactionView]:
        self._charger(charger_id)
        return await self.queries.transactions(charger_id, limit)

    async def transaction_page(self, charger_id: str, limit: int = 100, offset: int = 0) -> tuple[list[TransactionView], int]:
        """One page of a charger's sessions, newest first, and how many it has."""
        from sqlalchemy import func

        self._charger(charger_id)
        newest = await self.queries.transactions(charger_id, offset + limit)
        total = await self.store.run(
            lambda session: session.exec(
                select(func.count()).select_from(Transaction).where(Transaction.charger_id == charger_id)
            ).one()
        )
        return newest[offset:], total

    async def transaction_charger_id(self, transaction_id: int) -> str:
        """The charger a session belongs to (NotFound when there is no such session)."""
        transaction = await self.store.run(lambda session: session.get(Transaction, transaction_id))
        if transaction is None:
            raise NotFound(f"no transaction {transaction_id}")
        return transaction.charger_id

    async def export_transaction(self, charger_id: str, transaction_id: int) -> dict[str, Any]:
        """A session with all its readings, signed ones as the charger sent them."""
        record = self._charger(charger_id)
        export = await self.queries.transaction_export(charger_id, transaction_id)
        if export is None:
            raise NotFound(f"no transaction {transaction_id} on {record.identity}")
        return export

    async def fleet_logs(self, limit: int = 500) -> list[LogView]:
        """The whole fleet's latest log lines, oldest first."""
        await self.writer.flush()
        return await self.queries.logs(limit)

    async def charger_events(
        self, charger_id: str, limit: int = 200, kind: str | None = None, severity: str | None = None
    ) -> list[ChargerEventView]:
        """What the charger told about itself (NotifyEvent, security events, statuses, reports), newest first."""
        return (await self.charger_event_page(charger_id, limit, 0, kind, severity))[0]

    async def charger_event_page(
        self, charger_id: str, limit: int = 200, offset: int = 0, kind: str | None = None, severity: str | None = None
    ) -> tuple[list[ChargerEventView], int]:
        """One page of the charger's events, newest first, and how many match in all."""
        self._charger(charger_id)
        await self.writer.flush()
        return await self.queries.charger_events(charger_id, kind=kind, severity=severity, limit=limit, offset=offset)

    async def fleet_events(
        self, limit: int = 200, kind: str | None = None, severity: str | None = None
    ) -> list[ChargerEventView]:
        """Every charger's events, newest first."""
        await self.writer.flush()
        return (await self.queries.charger_events(kind=kind, severity=severity, limit=limit))[0]

    async def org_fleet_events(
        self, organization_id: str, limit: int = 200, kind: str | None = None, severity: str | None = None
    ) -> list[ChargerEventView]:
        """The organization's chargers' events, newest first."""
        await self.writer.flush()
        found = await self.queries.charger_events(organization_id=organization_id, kind=kind, severity=severity, limit=limit)
        return found[0]

    async def power_history(self, charger_id: str, minutes: int = 15) -> list[PowerSample]:
        self._charger(charger_id)
        await self.writer.flush()
        return await self.queries.power_history(charger_id, self.clock.now() - timedelta(minutes=minutes))

    def subscribe(self, *, kinds: tuple[type, ...] | None = None, frames: bool = True) -> Subscription:
        return self.bus.subscribe(kinds=kinds, frames=frames)

    # -- fleet writes ----------------------------------------------------------------

    def _writable(self) -> None:
        if self._info.read_only:
            raise Unavailable("the console is read-only")

    async def check_charger(self, fields: dict[str, Any], charger_id: str | None = None) -> dict[str, str]:
        def work(session: Session) -> dict[str, str]:
            return self.fleet.check(session, fields, charger_id)[1]

        return await self.store.run(work)

    async def create_charger(self, fields: dict[str, Any]) -> ChargerView:
        self._writable()
        charger = await self.store.run(lambda session: self.fleet.create(session, fields))
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", "charger created", charger_id=charger.id)
        return self.live.view(charger.id)

    async def update_charger(self, charger_id: str, fields: dict[str, Any]) -> ChargerView:
        self._writable()
        charger = await self.store.run(lambda session: self.fleet.update(session, charger_id, fields))
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", "charger updated", charger_id=charger.id)
        return self.live.view(charger.id)

    async def delete_charger(self, charger_id: str) -> None:
        self._writable()
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        if record.simulated and self.runtime is not None:
            await self.runtime.stop(charger_id)
        cancelled = await self.engine.charger_deleted(charger_id)
        await self.writer.flush()
        charger = await self.store.run(lambda session: self.fleet.delete(session, charger_id))
        self.live.record_removed(charger)
        if cancelled:
            # The actions go with the charger; the fleet log keeps what became of them.
            ids = ", ".join(f"{action.command} {action.id}" for action in cancelled)
            self.live.log(charger.identity, "event", f"charger deleted; its open actions cancelled: {ids}")

    # -- commands (charge / idle) ---------------------------------------------------------

    def charger_commands(self) -> dict[str, Any]:
        """The seed's `commands` object: each command with its parameters and execution modes."""
        return self.engine.commands()

    async def send_command(
        self,
        charger_id: str,
        command: str,
        parameters: dict[str, Any] | None = None,
        execution: str | None = None,
        start: str | None = None,
        end: str | None = None,
        on_conflict: str | None = None,
    ) -> ActionView:
        """Charge or idle a charger now, at `start`, or within `start`..`end`."""
        self._writable()
        need = self.planner.command_need(charger_id, command, parameters)
        action = await self.engine.submit(charger_id, command, parameters, execution, start, end, on_conflict)
        if need is not None:
            await self.planner.set_need(**need)
        return action_view(action, self._charger(charger_id).identity)

    async def cancel_action(self, action_id: str) -> ActionView:
        self._writable()
        action = await self.engine.cancel(action_id)
        return action_view(action, self._charger(action.charger_id).identity)

    async def get_action(self, action_id: str) -> ActionView:
        await self.writer.flush()
        action = await self.store.run(lambda session: session.get(Action, action_id))
        if action is None:
            raise NotFound(f"no action {action_id!r}")
        record = self.live.record(action.charger_id)
        return action_view(action, record.identity if record else action.charger_id)

    # -- registration ----------------------------------------------------------------

    async def list_unknown(self) -> list[UnknownChargerView]:
        return await self.registrations.list_unknown()

    async def accept_charger(self, charger_id: str) -> ChargerView:
        self._writable()
        view = await self.registrations.decide(charger_id, "accepted")
        self.boot_again(view)
        return view

    async def reject_charger(self, charger_id: str) -> ChargerView:
        self._writable()
        view = await self.registrations.decide(charger_id, "rejected")
        self._disconnect_rejected(view.identity)
        return view

    async def accept_unknown(self, identity: str, ocpp_version: str = OcppVersion.V16) -> ChargerView:
        self._writable()
        view = await self.registrations.decide_unknown(identity, "accepted", ocpp_version)
        assert view is not None
        self.boot_again(view)
        return view

    async def reject_unknown(self, identity: str) -> None:
        self._writable()
        await self.registrations.decide_unknown(identity, "rejected")
        self._disconnect_rejected(identity)

    def _disconnect_rejected(self, identity: str) -> None:
        # Rejected means gone now, not at the charger's next boot; the handshake refuses it from here on.
        if self.gateway is not None:
            self.gateway.disconnect(identity, "rejected by an operator")

    # -- runtime ---------------------------------------------------------------------

    def _charger(self, charger_id: str) -> Charger:
        record = self.live.record(charger_id)
        if record is None:
            raise NotFound(f"no charger {charger_id!r}")
        return record

    async def start_charger(self, charger_id: str) -> str:
        return await self._runtime_command(charger_id, "start")

    async def stop_charger(self, charger_id: str) -> str:
        return await self._runtime_command(charger_id, "stop")

    async def restart_charger(self, charger_id: str) -> str:
        record = self._charger(charger_id)
        if record.simulated:
            return await self._runtime_command(charger_id, "restart")
        # A real charger has no runtime of ours: restart means an OCPP Reset (1.6 Soft, 2.0.1 OnIdle).
        operation, payload = ops.reset_request(record.ocpp_version, hard=False)
        return await self.ocpp_call(charger_id, operation, payload, command="restart")

    async def _runtime_command(self, charger_id: str, command: str) -> str:
        self._writable()
        record = self._charger(charger_id)
        if not record.simulated:
            raise Unavailable(f"{record.identity} is a real charger: there is no runtime to {command}")
        if self.runtime is None:
            raise Unavailable("simulated chargers are not running in this process")
        action = await self.ledger.open(charger_id, command, {})
        try:
            outcome = await getattr(self.runtime, command)(charger_id)
        except Exception as error:
            await self.ledger.settle(action, "failed", str(error))
            raise
        await self.ledger.settle(action, "completed", outcome)
        return outcome

    # -- simulator controls (lab) ---------------------------------------------------------

    def _simulator(self, charger_id: str) -> RuntimeControl:
        record = self._charger(charger_id)
        if not record.simulated:
            raise Unavailable(f"{record.identity} is a real charger: only simulated chargers take operator controls")
        if self.runtime is None:
            raise Unavailable("simulated chargers are not running in this process")
        return self.runtime

    async def plug_in(
        self, charger_id: str, connector_id: int, soc: float | None = None, battery_kwh: float | None = None
    ) -> str:
        """Plug an EV into a simulated charger (it waits in Preparing for a tag or a remote start)."""
        self._writable()
        return await self._simulator(charger_id).plug_in(charger_id, connector_id, soc=soc, battery_kwh=battery_kwh)

    async def unplug(self, charger_id: str, connector_id: int) -> str:
        self._writable()
        return await self._simulator(charger_id).unplug(charger_id, connector_id)

    async def present_id_tag(self, charger_id: str, connector_id: int, id_tag: str) -> str:
        self._writable()
        return await self._simulator(charger_id).present_id_tag(charger_id, connector_id, id_tag)

    async def inject_fault(self, charger_id: str, connector_id: int, error_code: str = "OtherError") -> str:
        self._writable()
        return await self._simulator(charger_id).inject_fault(charger_id, connector_id, error_code)

    async def clear_fault(self, charger_id: str, connector_id: int) -> str:
        self._writable()
        return await self._simulator(charger_id).clear_fault(charger_id, connector_id)

    async def drop_connection(self, charger_id: str) -> str:
        self._writable()
        return await self._simulator(charger_id).drop_connection(charger_id)

    async def location_runtime(self, location_id: str, command: str) -> list[str]:
        """start, stop or restart every simulated charger at a location."""
        self._writable()
        if command not in ("start", "stop", "restart"):
            raise ValidationFailed({"command": "one of start, stop, restart"})
        if location_id not in {location.id for location in self.live.locations()}:
            raise NotFound(f"no location {location_id!r}")
        if self.runtime is None:
            raise Unavailable("simulated chargers are not running in this process")
        return await getattr(self.runtime, f"{command}_location")(location_id)

    async def ocpp_call(
        self, charger_id: str, operation: str, payload: dict[str, Any], command: str | None = None
    ) -> str:
        """Send one OCPP operation to a charger, recorded as an action; says what became of it in words.

        Raises when it failed (offline, timeout, CALLERROR); a refusal is an answer, not a failure.
        """
        return self._say(await self.operate(charger_id, operation, payload, command=command))

    @staticmethod
    def _say(result: OperationResult) -> str:
        if result.state == "failed":
            if result.reason == ops.OFFLINE:
                raise Unavailable(f"{result.identity} is offline")
            raise Unavailable(f"{result.operation} to {result.identity} failed: {result.detail}")
        return f"{result.operation} {(result.status or 'answered').lower()} by {result.identity}"

    # -- operations to chargers ------------------------------------------------------

    async def operate(
        self, charger_id: str, operation: str, payload: dict[str, Any] | None = None, *, command: str | None = None
    ) -> OperationResult:
        """Send one OCPP operation (camelCase payload) to one charger, recorded as an action.

        An operation the charger's version does not have, or a request its schema
        refuses, raises `OperationRefused` and sends nothing (the latter is recorded
        as failed). Everything after that is in the result: acknowledged, rejected
        (the charger's status said no), or failed — offline at once, timeout,
        call_error (a CALLERROR answer), invalid_answer.
        """
        self._writable()
        record = self._charger(charger_id)
        subject = f"{operation} to {record.identity}"
        ops.check_operation(record.ocpp_version, operation, subject)
        request = dict(payload or {})
        # What is kept of the request and the answer never holds a charger's password.
        action = await self.ledger.open(
            charger_id, command or operation, mask_secrets(ops.plain(request))[0], operation=operation
        )
        exchange = await self.ledger.dispatch(action, operation, request)
        if exchange.problem is not None:
            raise OperationRefused({"payload": exchange.problem}, subject, self._result(action, record))
        if exchange.acknowledged:
            await self.ledger.settle(action, "acknowledged", exchange.detail)
        return self._result(action, record)

    async def operate_many(
        self, charger_ids: Iterable[str], operation: str, payload: dict[str, Any] | None = None
    ) -> list[OperationResult]:
        """The same operation to many chargers at once; one result per charger, in order."""
        return await self.many(
            charger_ids, lambda charger_id: self.operate(charger_id, operation, payload), operation, payload
        )

    async def many(
        self,
        charger_ids: Iterable[str],
        run: Callable[[str], Awaitable[OperationResult]],
        operation: str,
        request: dict[str, Any] | None = None,
    ) -> list[OperationResult]:
        """Run one operation per charger concurrently (e.g. `lambda id: service.reset(id)`).

        A charger refused (unknown, wrong version, bad request) gets a failed
        result whose reason is the error's code; the others carry on.
        """

        async def one(charger_id: str) -> OperationResult:
            try:
                return await run(charger_id)
            except OperationRefused as refused:
                return refused.result or self._refusal(charger_id, operation, request, refused)
            except ConsoleError as error:
                return self._refusal(charger_id, operation, request, error)

        return list(await asyncio.gather(*(one(charger_id) for charger_id in charger_ids)))

    def _refusal(
        self, charger_id: str, operation: str, request: dict[str, Any] | None, error: ConsoleError
    ) -> OperationResult:
        """The result for a charger refused before any action was recorded."""
        record = self.live.record(charger_id)
        return OperationResult(
            action_id=None,
            charger_id=charger_id,
            identity=record.identity if record else charger_id,
            operation=operation,
            command=operation,
            state="failed",
            request=dict(request or {}),
            reason=error.code.lower(),
            detail=str(error),
        )

    @staticmethod
    def _result(action: Action, record: Charger) -> OperationResult:
        status = None
        if action.state in ("acknowledged", "rejected") and action.result is not None:
            status = ops.answered_state(action.result)[1]
        return OperationResult(
            action_id=action.id,
            charger_id=action.charger_id,
            identity=record.identity,
            operation=action.operation or action.command,
            command=action.command,
            state=action.state,
            request=dict(action.parameters),
            answer=action.result,
            status=status,
            reason=action.reason,
            detail=action.detail,
            created_at=action.created_at,
            sent_at=action.sent_at,
            answered_at=action.answered_at,
            duration_ms=action.duration_ms,
        )

    # Version-neutral operations for the UI and the REST API; each goes through operate().

    async def reset(self, charger_id: str, hard: bool = False) -> OperationResult:
        """1.6 Soft/Hard, 2.0.1 OnIdle/Immediate."""
        operation, payload = ops.reset_request(self._charger(charger_id).ocpp_version, hard)
        return await self.operate(charger_id, operation, payload, command="reset")

    async def unlock(self, charger_id: str, connector_id: int) -> OperationResult:
        operation, payload = ops.unlock_request(self._charger(charger_id).ocpp_version, connector_id)
        return await self.operate(charger_id, operation, payload, command="unlock")

    async def change_availability(self, charger_id: str, connector_id: int, operative: bool) -> OperationResult:
        """Connector 0 is the whole charger."""
        operation, payload = ops.availability_request(self._charger(charger_id).ocpp_version, connector_id, operative)
        return await self.operate(charger_id, operation, payload, command="change_availability")

    async def remote_start(
        self, charger_id: str, connector_id: int | None, id_tag: str, remote_start_id: int | None = None
    ) -> OperationResult:
        """1.6 RemoteStartTransaction; 2.0.1 RequestStartTransaction with a Central idToken."""
        operation, payload = ops.remote_start_request(
            self._charger(charger_id).ocpp_version, connector_id, id_tag, remote_start_id
        )
        return await self.operate(charger_id, operation, payload, command="remote_start")

    async def remote_stop(self, charger_id: str, transaction_id: int) -> OperationResult:
        """Stop one of our transactions (its `id`); the charger is sent its own reference for it."""
        record = self._charger(charger_id)
        transaction = await self.store.run(lambda session: session.get(Transaction, transaction_id))
        if transaction is None or transaction.charger_id != charger_id:
            raise NotFound(f"no transaction {transaction_id} on {record.identity}")
        if transaction.stopped_at is not None:
            raise Conflict(f"transaction {transaction_id} on {record.identity} has already stopped")
        operation, payload = ops.remote_stop_request(
            record.ocpp_version, transaction.transaction_ref or str(transaction.id)
        )
        return await self.operate(charger_id, operation, payload, command="remote_stop")

    async def trigger(self, charger_id: str, message: str, connector_id: int | None = None) -> OperationResult:
        operation, payload = ops.trigger_request(self._charger(charger_id).ocpp_version, message, connector_id)
        return await self.operate(charger_id, operation, payload, command="trigger")

    async def get_configuration(self, charger_id: str, keys: list[str] | None = None) -> OperationResult:
        """1.6 GetConfiguration (every key when none is named); 2.0.1 GetVariables of "Component.Variable" keys."""
        operation, payload = ops.get_configuration_request(self._charger(charger_id).ocpp_version, keys)
        return await self.operate(charger_id, operation, payload, command="get_configuration")

    async def set_configuration(self, charger_id: str, key: str, value: str) -> OperationResult:
        """1.6 ChangeConfiguration; 2.0.1 SetVariables of one "Component.Variable" key."""
        operation, payload = ops.set_configuration_request(self._charger(charger_id).ocpp_version, key, value)
        return await self.operate(charger_id, operation, payload, command="set_configuration")

    # == REST API: organizations, API keys, and what one organization may see ==========
    # (issue 7). The API edge scopes every request through these; a charger of another
    # organization is "not found", so ids do not leak. Imports are local to keep this
    # section self-contained.

    async def create_api_key(
        self,
        org: str = DEFAULT_ORG,
        label: str | None = None,
        scopes: Any = None,
        expires_at: Any = None,
    ) -> tuple[Any, str]:
        """A new key of the organization named `org` (created if new): (its ApiKeyView, the key, shown once).

        `scopes` (read, operate, admin) default to all three; `expires_at` to never.
        """
        from console.core.keys import ApiKeys, org_name_problem, parse_scopes

        problem = org_name_problem(org)
        if problem:
            raise ValidationFailed({"org": problem})
        chosen = parse_scopes(scopes)
        keys = ApiKeys(self.clock)
        return await self.store.run(
            lambda session: keys.create(session, self.fleet.ensure_org(session, org.strip()), label, chosen, expires_at)
        )

    async def revoke_api_key(self, key_id: str, organization_id: str | None = None) -> Any:
        """End a key at once; with `organization_id`, only one of that organization's (NotFound otherwise)."""
        from console.core.keys import ApiKeys

        return await self.store.run(lambda session: ApiKeys(self.clock).revoke(session, key_id, organization_id))

    async def list_api_keys(self, organization_id: str | None = None) -> list[Any]:
        from console.core.keys import ApiKeys

        return await self.store.run(lambda session: ApiKeys(self.clock).list(session, organization_id))

    async def authenticate(self, key: str) -> Any:
        """The key's Principal (key id, organization, scopes), or None for a missing, wrong, revoked or expired key.

        Its last-used time goes to the store with the next batch, at most once a minute per key.
        """
        from console.core.keys import ApiKeys

        keys = ApiKeys(self.clock)
        found = await self.store.read(lambda session: keys.verify(session, key))
        if found is not None and found.stale_use and not self._info.read_only and found.key_id not in self._key_uses:
            self._key_uses.add(found.key_id)

            def used(session: Session) -> None:
                self._key_uses.discard(found.key_id)
                keys.used(session, found.key_id)

            self.writer.call(used)
        return found

    def org_chargers(self, organization_id: str) -> list[ChargerView]:
        """The organization's chargers, by identity."""
        return sorted(
            (view for view in self.live.views() if view.organization_id == organization_id),
            key=lambda view: view.identity,
        )

    def org_charger(self, organization_id: str, charger_id: str) -> ChargerView:
        record = self.live.record(charger_id)
        if record is None or record.organization_id != organization_id:
            raise NotFound(f"no charger {charger_id!r}")
        return self.live.view(charger_id)

    async def org_location_ids(self, organization_id: str) -> set[str]:
        return set(
            await self.store.run(
                lambda session: session.exec(select(Location.id).where(Location.organization_id == organization_id)).all()
            )
        )

    async def org_locations(self, organization_id: str) -> list[LocationView]:
        mine = await self.org_location_ids(organization_id)
        return [location for location in await self.list_locations() if location.id in mine]

    async def _org_location_problem(self, organization_id: str, fields: dict[str, Any]) -> dict[str, str]:
        location_id = fields.get("location_id")
        if not isinstance(location_id, str) or not location_id.strip():
            return {}
        if location_id.strip() in await self.org_location_ids(organization_id):
            return {}
        return {"location_id": f"no location {location_id.strip()!r}"}

    async def check_charger_in(
        self, organization_id: str, fields: dict[str, Any], charger_id: str | None = None
    ) -> dict[str, str]:
        if charger_id is not None:
            self.org_charger(organization_id, charger_id)
        problems = await self.check_charger(fields, charger_id)
        return {**problems, **await self._org_location_problem(organization_id, fields)}

    async def create_charger_in(self, organization_id: str, fields: dict[str, Any]) -> ChargerView:
        """Create a charger in the organization; its location must be one of the organization's."""
        from console.core.models import Organization

        self._writable()
        location_problem = await self._org_location_problem(organization_id, fields)

        def write(session: Session) -> Charger:
            if location_problem:
                problems = {**self.fleet.check(session, fields)[1], **location_problem}
                raise ValidationFailed(problems)
            organization = session.get(Organization, organization_id)
            if organization is None:
                raise NotFound(f"no organization {organization_id!r}")
            return self.fleet.create(session, fields, org=organization.name)

        charger = await self.store.run(write)
        self.live.record_saved(charger)
        self.live.log(charger.identity, "event", "charger created", charger_id=charger.id)
        return self.live.view(charger.id)

    async def update_charger_in(self, organization_id: str, charger_id: str, fields: dict[str, Any]) -> ChargerView:
        self.org_charger(organization_id, charger_id)
        location_problem = await self._org_location_problem(organization_id, fields)
        if location_problem:
            problems = await self.check_charger(fields, charger_id)
            raise ValidationFailed({**problems, **location_problem})
        return await self.update_charger(charger_id, fields)

    # -- id tokens (the embedded console's organization unless one is named) -------------------

    def _org_id(self, organization_id: str | None) -> str:
        return organization_id or f"org-{DEFAULT_ORG}"

    async def list_tokens(self, organization_id: str | None = None) -> list[TokenView]:
        return self.tokens.org_tokens(self._org_id(organization_id))

    async def save_token(
        self,
        fields: dict[str, Any],
        token_id: str | None = None,
        organization_id: str | None = None,
        stop_sessions: bool = False,
    ) -> TokenView:
        """Create a token, or change one; a token blocked here has its running sessions reported (and stopped)."""
        self._writable()
        org_id = self._org_id(organization_id)
        if token_id is None:
            return await self.tokens.create(org_id, fields)
        was = self.tokens.get(org_id, token_id)
        view = await self.tokens.update(org_id, token_id, fields)
        if view.status == "Blocked" and was.status != "Blocked":
            running = await self.tokens.sessions_on(org_id, view.token)
            self.tokens.report_blocked(running, stop_sessions)
            if stop_sessions:
                for session in running:
                    await self.remote_stop(session.charger_id, session.transaction_id)
        return view

    async def delete_token(self, token_id: str, organization_id: str | None = None) -> TokenView:
        self._writable()
        return await self.tokens.delete(self._org_id(organization_id), token_id)

    async def import_tokens(self, rows: list[Any], organization_id: str | None = None) -> int:
        """Rows of a token file, whole or not at all (ImportRefused lists every bad row)."""
        self._writable()
        return await self.tokens.import_rows(self._org_id(organization_id), rows)

    async def import_token_file(self, text: str, organization_id: str | None = None) -> int:
        return await self.import_tokens(read_csv(text), organization_id)

    async def local_list(self, charger_id: str) -> LocalListView:
        return await self.local_lists.status(charger_id)

    async def push_local_list(self, charger_id: str, full: bool = False) -> OperationResult:
        """SendLocalList: the registry as the charger may use it, whole or what changed since its version."""
        self._writable()
        return await self.local_lists.push(charger_id, full)

    async def local_list_version(self, charger_id: str) -> OperationResult:
        return await self.local_lists.version(charger_id)

    async def action_charger_id(self, action_id: str) -> str:
        """The charger an action belongs to (NotFound when there is no such action)."""
        action = await self.store.run(lambda session: session.get(Action, action_id))
        if action is None:
            raise NotFound(f"no action {action_id!r}")
        return action.charger_id

    async def charger_log_page(self, charger_id: str, limit: int = 100, before: int | None = None) -> list[LogView]:
        """One page of a charger's log, newest first; `before` is the last id of the previous page."""
        await self.writer.flush()

        def read(session: Session) -> list[LogView]:
            query = select(LogEntry).where(LogEntry.charger_id == charger_id)
            if before is not None:
                query = query.where(col(LogEntry.id) < before)
            return [log_view(row) for row in session.exec(query.order_by(col(LogEntry.id).desc()).limit(limit)).all()]

        return await self.store.run(read)

    async def org_actions(self, organization_id: str, limit: int = 200) -> list[ActionView]:
        """The organization's action history, newest first."""
        await self.writer.flush()

        def read(session: Session) -> list[Action]:
            return list(
                session.exec(
                    select(Action)
                    .join(Charger, col(Charger.id) == col(Action.charger_id))
                    .where(Charger.organization_id == organization_id)
                    .order_by(col(Action.created_at).desc(), col(Action.id).desc())
                    .limit(limit)
                ).all()
            )

        return [action_view(action, self._charger(action.charger_id).identity) for action in await self.store.run(read)]

    async def org_action_page(
        self,
        organization_id: str,
        *,
        charger_id: str | None = None,
        command: str | None = None,
        state: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[ActionView], int]:
        """One page of the organization's actions, newest first, narrowed by charger, command, state and
        creation time (`since` included, `until` not), and how many match in all."""
        from sqlalchemy import func

        await self.writer.flush()

        def read(session: Session) -> tuple[list[Action], int]:
            query = select(Action).join(Charger, col(Charger.id) == col(Action.charger_id))
            query = query.where(Charger.organization_id == organization_id)
            if charger_id is not None:
                query = query.where(Action.charger_id == charger_id)
            if command is not None:
                query = query.where(Action.command == command)
            if state is not None:
                query = query.where(Action.state == state)
            if since is not None:
                query = query.where(col(Action.created_at) >= since)
            if until is not None:
                query = query.where(col(Action.created_at) < until)
            total = session.exec(select(func.count()).select_from(query.subquery())).one()
            page = session.exec(
                query.order_by(col(Action.created_at).desc(), col(Action.id).desc()).offset(offset).limit(limit)
            ).all()
            return list(page), total

        page, total = await self.store.run(read)
        return [action_view(action, self._charger(action.charger_id).identity) for action in page], total

    async def org_fleet_logs(self, organization_id: str, limit: int = 500) -> list[LogView]:
        """The organization's chargers' latest log lines, oldest first."""
        await self.writer.flush()

        def read(session: Session) -> list[LogView]:
            rows = session.exec(
                select(LogEntry)
                .join(Charger, col(Charger.id) == col(LogEntry.charger_id))
                .where(Charger.organization_id == organization_id)
                .order_by(col(LogEntry.id).desc())
                .limit(limit)
            ).all()
            return [log_view(row) for row in reversed(rows)]

        return await self.store.run(read)

    def power_rate_limit_kw(self, charger_id: str) -> float:
        """The power limit in force (kW): the tightest of the charger's max, a charge command's limit, the depot cap's share."""
        record = self._charger(charger_id)
        limits = [float(record.max_charging_power)]
        for limit in (self.engine.command_limit_w(charger_id), self.power_cap.in_force_w(charger_id)):
            if limit is not None:
                limits.append(float(limit))
        return round(min(limits) / 1000, 3)

    def runtime_provisioning(self, charger_id: str) -> dict[str, Any] | None:
        """The simulated runtime's provisioning stages, when the runtime reports them."""
        report = getattr(self.runtime, "provisioning", None)
        if report is None or not self._charger(charger_id).simulated:
            return None
        return report(charger_id)

    async def store_reachable(self) -> bool:
        from sqlalchemy import text

        try:
            await asyncio.wait_for(self.store.run(lambda session: session.execute(text("SELECT 1")).scalar_one()), 5)
        except Exception:  # any failure of the store means "not reachable", which /health reports
            return False
        return True


    # == every operation the catalogue lists (console/core/catalogue.py), for the menu, REST and CLI ====

    async def operation_catalogue(self, charger_id: str) -> list[OperationSpec]:
        """The operations the charger's version takes, each with its parameters."""
        return catalogue.catalogue_for(self._charger(charger_id).ocpp_version)

    async def run_operation(self, charger_id: str, operation: str, params: dict[str, Any] | None = None) -> OperationResult:
        """One catalogue operation (its OCPP name or slug) with the operator's parameters, recorded as an action.

        ValidationFailed (OperationRefused) names the bad parameter; nothing is sent then.
        """
        record = self._charger(charger_id)
        spec = catalogue.spec_for(record.ocpp_version, operation)
        values = catalogue.check_params(spec, dict(params or {}), self.clock.now())
        command = spec.slug.replace("-", "_")
        if spec.name == "SendLocalList":
            return await self.push_local_list(charger_id, full=values["update_type"] == "Full")
        if spec.name == "GetLocalListVersion":
            return await self.local_list_version(charger_id)
        if spec.name in ("UpdateFirmware", "SignedUpdateFirmware"):
            return await self.firmware.update(
                charger_id,
                location=values["location"],
                retrieve_at=values.get("retrieve_at"),
                retries=values.get("retries"),
                retry_interval=values.get("retry_interval"),
                signed=spec.name == "SignedUpdateFirmware",
                signature=values.get("signature"),
                signing_certificate=values.get("signing_certificate"),
                install_at=values.get("install_at"),
            )
        if spec.name in ("GetDiagnostics", "GetLog"):
            return await self.firmware.request_logs(
                charger_id,
                values.get("log_type", "DiagnosticsLog"),
                since=values.get("since"),
                until=values.get("until"),
                retries=values.get("retries"),
                retry_interval=values.get("retry_interval"),
            )
        name, payload = ops.build_request(record.ocpp_version, spec.name, values)
        return await self.operate(charger_id, name, payload, command=command)

    async def run_operation_many(
        self, charger_ids: Iterable[str], operation: str, params: dict[str, Any] | None = None
    ) -> list[OperationResult]:
        """The same catalogue operation to many chargers; one result per charger, in order."""
        return await self.many(charger_ids, lambda charger_id: self.run_operation(charger_id, operation, params), operation, params)
    # -- registration follow-up ----------------------------------------------------------

    def boot_again(self, view: ChargerView) -> asyncio.Task[OperationResult | None] | None:
        """A charger just accepted while connected (it was Pending) is asked to boot again now,
        TriggerMessage(BootNotification), rather than at its own retry; an offline one boots when it connects."""
        if self.gateway is None or not self.gateway.is_connected(view.identity):
            return None
        operation, payload = ops.trigger_request(view.ocpp_version, "BootNotification")

        async def ask() -> OperationResult | None:
            try:
                return await self.operate(view.id, operation, payload, command="registration")
            except ConsoleError as error:  # recorded as an action where one was opened; nothing to raise to
                log.warning("asking %s to boot again failed: %s", view.identity, error)
                return None

        task = asyncio.create_task(ask(), name="boot again")
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)
        return task

    # -- configuration (console/core/configuration.py) ------------------------------------------

    async def charger_configuration(self, charger_id: str) -> ConfigurationView:
        """The charger's configuration as last fetched (nothing is asked of the charger)."""
        return await self.settings.view(charger_id)

    async def refresh_configuration(self, charger_id: str) -> ConfigurationView:
        """Fetch the charger's whole configuration again (1.6 GetConfiguration, 2.0.1 GetBaseReport) and keep it."""
        self._writable()
        return await self.settings.refresh(charger_id)

    async def change_configuration(self, charger_id: str, key: str, value: str, confirmed: bool = False) -> OperationResult:
        """Change one key (ChangeConfiguration / SetVariables); a key that can strand the charger needs `confirmed`."""
        self._writable()
        return await self.settings.change(charger_id, key, value, confirmed)

    def _rate_learned(self, charger_id: str) -> None:
        record = self.live.record(charger_id)
        if record is not None and record.location_id is not None:
            self.power_cap.location_changed(record.location_id)

    # -- reservations (console/core/reservations.py) ---------------------------------------------

    async def list_reservations(self, charger_id: str | None = None, organization_id: str | None = None) -> list[ReservationView]:
        """Newest first: one charger's, or every charger's of the organization (all of them without one)."""
        if charger_id is not None:
            self._charger(charger_id)
            return await self.reservations.list(charger_id=charger_id)
        if organization_id is None:
            return await self.reservations.list()
        return await self.reservations.list({view.id for view in self.org_chargers(organization_id)})

    async def reserve(self, charger_id: str, connector_id: int, id_tag: str, expires: str | datetime) -> ReservationView:
        """ReserveNow of a connector (0: any) for a token until `expires` (ISO 8601, or "30m", "2h")."""
        self._writable()
        return await self.reservations.reserve(charger_id, connector_id, id_tag, expires)

    async def cancel_reservation(self, charger_id: str, reservation_id: int) -> ReservationView:
        self._writable()
        return await self.reservations.cancel(charger_id, reservation_id)

    # -- charging schedules and installed profiles (console/core/schedules.py) ----------------------

    async def composite_schedule(self, charger_id: str, connector_id: int = 0, duration_s: int = 3600) -> CompositeScheduleView:
        """GetCompositeSchedule: what the charger will draw at most over the next `duration_s` (connector 0: all of it)."""
        self._writable()
        return await self.schedules.composite(charger_id, connector_id, duration_s)

    async def installed_profiles(self, charger_id: str) -> list[ProfileView]:
        """The charging profiles the console installed on the charger and has not cleared, as the action record tells."""
        await self.writer.flush()
        return await self.schedules.installed(charger_id)

    async def clear_profile(self, charger_id: str, profile_id: int) -> OperationResult:
        """ClearChargingProfile of one installed profile; the power cap forgets a cap it cleared."""
        self._writable()
        result = await self.schedules.clear(charger_id, profile_id)
        if result.state == "acknowledged" and profile_id == CAP_PROFILE_ID:
            self.power_cap.forget(charger_id)
        return result
    # -- the depot planner ---------------------------------------------------------------

    async def location_plan(self, location_id: str) -> dict[str, Any]:
        if not any(location.id == location_id for location in self.live.locations()):
            raise NotFound(f"no location {location_id}")
        return self.planner.wire(location_id)

    async def set_location_planner(self, location_id: str, enabled: bool) -> dict[str, Any]:
        self._writable()
        await self.planner.set_settings(location_id, enabled=enabled)
        await self.planner.replan(location_id)
        return self.planner.wire(location_id)

    async def pin_session(self, charger_id: str, connector_id: int, pinned: bool) -> None:
        self._writable()
        self._charger(charger_id)
        await self.planner.pin(charger_id, connector_id, pinned)

    async def set_location_tariff(self, location_id: str, tariff: list[float] | None) -> dict[str, Any]:
        self._writable()
        await self.planner.set_settings(location_id, tariff=tariff)
        await self.planner.replan(location_id)
        return self.planner.wire(location_id)
